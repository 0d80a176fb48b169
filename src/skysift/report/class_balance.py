"""Class balance of a training set: objects per class and split, as CSV, Markdown and a PNG.

Counts come from the COCO annotation documents themselves (one annotation = one object in one
cutout), so the table always agrees with what a detector is trained on.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skysift.io.atomic import atomic_path

#: Columns of ``class_balance.csv``.
CSV_COLUMNS: tuple[str, ...] = ("split", "class", "n_objects", "n_truncated")


def class_balance_rows(
    documents: Mapping[str, Mapping[str, Any]], classes: Sequence[str]
) -> list[dict[str, Any]]:
    """Objects (annotations) per split and class, and how many of them are truncated.

    Parameters
    ----------
    documents
        COCO documents by split name (e.g. ``{"train": {...}, "val": {...}}``).
    classes
        Class names in category-id order (id = index + 1).

    Returns
    -------
    list of dict
        One row per (split, class) with the keys of :data:`CSV_COLUMNS`.
    """
    rows = []
    for split, doc in documents.items():
        n = np.zeros(len(classes), dtype=int)
        t = np.zeros(len(classes), dtype=int)
        for ann in doc["annotations"]:
            index = int(ann["category_id"]) - 1
            n[index] += 1
            t[index] += bool(ann.get("truncated", False))
        rows += [
            {"split": split, "class": name, "n_objects": int(n[i]), "n_truncated": int(t[i])}
            for i, name in enumerate(classes)
        ]
    return rows


def markdown_table(rows: Sequence[Mapping[str, Any]], classes: Sequence[str]) -> str:
    """Markdown table: one row per class, one column per split, cells ``n (t truncated)``."""
    splits = list(dict.fromkeys(str(r["split"]) for r in rows))
    cell = {(r["split"], r["class"]): r for r in rows}
    lines = [
        "| class | " + " | ".join(splits) + " |",
        "|---|" + "---:|" * len(splits),
    ]
    for name in classes:
        cells = [
            f"{cell[s, name]['n_objects']} ({cell[s, name]['n_truncated']} truncated)"
            for s in splits
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = [str(sum(r["n_objects"] for r in rows if r["split"] == s)) for s in splits]
    lines.append("| **total** | " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"


def plot_class_balance(
    rows: Sequence[Mapping[str, Any]], classes: Sequence[str], path: str | Path
) -> Path:
    """Grouped bar plot (one group per class, one bar per split) as PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(dict.fromkeys(str(r["split"]) for r in rows))
    cell = {(r["split"], r["class"]): r["n_objects"] for r in rows}
    x = np.arange(len(classes))
    width = 0.8 / max(len(splits), 1)
    fig, ax = plt.subplots(figsize=(1.6 * len(classes) + 2, 4))
    try:
        for k, split in enumerate(splits):
            heights = [cell[split, name] for name in classes]
            ax.bar(x + (k - (len(splits) - 1) / 2) * width, heights, width, label=split)
        ax.set_xticks(x, list(classes))
        ax.set_ylabel("objects (annotations)")
        ax.set_title("class balance per split")
        ax.legend()
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
    return Path(path)


def write_class_balance(
    rows: Sequence[Mapping[str, Any]], stem: str | Path, *, classes: Sequence[str]
) -> list[Path]:
    """Write ``<stem>.csv``, ``<stem>.md`` and ``<stem>.png``; return their paths."""
    stem = Path(stem)
    csv_path, md_path, png_path = (stem.with_suffix(s) for s in (".csv", ".md", ".png"))
    with atomic_path(csv_path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    with atomic_path(md_path) as tmp:
        tmp.write_text(markdown_table(rows, classes))
    plot_class_balance(rows, classes, png_path)
    return [csv_path, md_path, png_path]
