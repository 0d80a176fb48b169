"""Side-by-side table of finders scored by ``skysift evaluate-detector``: CSV, Markdown, PNG.

Every number comes from the files given (each finder's ``metrics.json`` and its run-time
records); nothing is recomputed. Run times are read from

- ``runtime.json`` of ``skysift run-baseline`` (``wall_s``, ``cpu_s``, ``peak_rss_mib``), or any
  JSON object with those keys;
- Snakemake benchmark TSVs (columns ``s`` = wall seconds, ``cpu_time`` = CPU seconds,
  ``max_rss`` = MiB; several rows = repeats, averaged).

Per finder, wall and CPU seconds are summed over its files (e.g. one per map) and the peak
memory is the largest of them.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skysift.errors import ConfigError, InputFileError
from skysift.io.atomic import atomic_dir

log = logging.getLogger(__name__)

#: Columns of ``comparison.csv`` (one row per finder and class).
CSV_COLUMNS: tuple[str, ...] = (
    "finder",
    "match",
    "class",
    "n_true",
    "n_found",
    "completeness",
    "n_det",
    "n_det_true",
    "reliability",
    "f1_x100",
    "ap50_segm",
    "multi_island_found_as_one",
    "spurious_flagged",
    "wall_s",
    "cpu_s",
    "peak_rss_mib",
)

#: Rows of the per-class table besides the classes themselves.
SUMMARY_ROWS: tuple[str, ...] = ("all (class-aware)", "any class")


@dataclass
class Runtime:
    """Summed cost of one finder over its run-time files.

    Attributes
    ----------
    wall_s, cpu_s
        Seconds, summed over files (NaN when no file gives them).
    peak_rss_mib
        Largest peak resident memory, MiB (NaN when unknown).
    files
        The files read.
    """

    wall_s: float = math.nan
    cpu_s: float = math.nan
    peak_rss_mib: float = math.nan
    files: list[str] = field(default_factory=list)


@dataclass
class FinderEntry:
    """One finder in the comparison: its name, evaluation and cost."""

    name: str
    eval_dir: Path
    metrics: dict[str, Any]
    runtime: Runtime

    @property
    def match(self) -> str:
        """Matching mode of its evaluation (``mask`` or ``position``)."""
        return str(self.metrics.get("config", {}).get("match", "mask"))


def _number(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _nansum(a: float, b: float) -> float:
    if math.isnan(a):
        return b
    return a if math.isnan(b) else a + b


def _nanmax(a: float, b: float) -> float:
    if math.isnan(a):
        return b
    return a if math.isnan(b) else max(a, b)


def read_runtime_file(path: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one ``runtime.json`` or Snakemake benchmark TSV.

    Raises
    ------
    InputFileError
        Missing or unreadable file, or one without a wall-time entry.
    """
    if not path.is_file():
        raise InputFileError(path, "run-time file not found")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(path, f"not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or "wall_s" not in record:
            raise InputFileError(path, "no 'wall_s' key: expected a run-baseline runtime.json")
        return (
            _number(record["wall_s"]),
            _number(record.get("cpu_s")),
            _number(record.get("peak_rss_mib")),
        )
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise InputFileError(
            path, "expected a Snakemake benchmark TSV (header with s, cpu_time, max_rss)"
        )

    def mean(key: str) -> float:
        values = [_number(r.get(key)) for r in rows]
        finite = [v for v in values if math.isfinite(v)]
        return float(np.mean(finite)) if finite else math.nan

    return mean("s"), mean("cpu_time"), mean("max_rss")


def read_runtime(paths: Sequence[Path]) -> Runtime:
    """Sum wall and CPU seconds, take the largest peak memory, over ``paths``."""
    runtime = Runtime()
    for path in paths:
        wall, cpu, rss = read_runtime_file(path)
        runtime.wall_s = _nansum(runtime.wall_s, wall)
        runtime.cpu_s = _nansum(runtime.cpu_s, cpu)
        runtime.peak_rss_mib = _nanmax(runtime.peak_rss_mib, rss)
        runtime.files.append(str(path))
    return runtime


def read_metrics(eval_dir: Path) -> dict[str, Any]:
    """``metrics.json`` of an ``evaluate-detector`` folder, checked for the keys used here."""
    path = eval_dir / "metrics.json"
    if not path.is_file():
        raise InputFileError(path, "metrics.json not found: is it an evaluate-detector folder?")
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON ({exc.msg})") from exc
    missing = [
        k
        for k in ("classes", "per_class", "multi_island", "spurious")
        if not isinstance(metrics, dict) or k not in metrics
    ]
    if missing:
        raise InputFileError(path, f"lacks {missing}: not written by skysift evaluate-detector")
    return dict(metrics)


def load_entries(specs: Sequence[tuple[str, Path, Sequence[Path]]]) -> list[FinderEntry]:
    """Read every finder's metrics and run times; check they were scored on the same truth.

    Parameters
    ----------
    specs
        ``(name, evaluation folder, run-time files)`` per finder.

    Raises
    ------
    ConfigError
        Duplicate names, or entries scored on different classes, splits or truth counts.
    """
    names = [name for name, _, _ in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError("--entry", f"finder names {twice} are used twice")
    entries = [
        FinderEntry(name, Path(d), read_metrics(Path(d)), read_runtime([Path(p) for p in files]))
        for name, d, files in specs
    ]
    first = entries[0]
    for entry in entries[1:]:
        for key, value in (
            ("classes", lambda m: m["classes"]),
            ("split", lambda m: m.get("inputs", {}).get("split")),
            ("counted truth objects", lambda m: m.get("n_truths_counted")),
        ):
            if value(entry.metrics) != value(first.metrics):
                raise ConfigError(
                    "--entry",
                    f"'{entry.name}' ({entry.eval_dir}) and '{first.name}' ({first.eval_dir}) "
                    f"differ in {key} ({value(entry.metrics)!r} vs {value(first.metrics)!r}): "
                    "score every finder on the same dataset split with the same settings",
                )
    return entries


def comparison_rows(entries: Sequence[FinderEntry]) -> list[dict[str, Any]]:
    """Long table: one row per finder and class (then the two summary rows), columns
    :data:`CSV_COLUMNS`; finder-level values (multi-island, spurious, run time) repeated."""
    rows = []
    for entry in entries:
        m = entry.metrics
        by_class = {r["class"]: r for r in m["per_class"]}
        segm = m.get("coco", {}).get("segm", {})
        ap = segm.get("per_class", {})
        for name in [*m["classes"], *SUMMARY_ROWS]:
            r = by_class.get(name, {})
            ap50 = (
                ap.get(name, {}).get("ap_50")
                if name in m["classes"]
                else segm.get("map_50")
                if name == "all (class-aware)"
                else None
            )
            rows.append(
                {
                    "finder": entry.name,
                    "match": entry.match,
                    "class": name,
                    "n_true": r.get("n_true"),
                    "n_found": r.get("n_found"),
                    "completeness": _number(r.get("completeness")),
                    "n_det": r.get("n_det"),
                    "n_det_true": r.get("n_det_true"),
                    "reliability": _number(r.get("reliability")),
                    "f1_x100": _number(r.get("f1_x100")),
                    "ap50_segm": _number(ap50),
                    "multi_island_found_as_one": _number(
                        m["multi_island"].get("fraction_found_as_one")
                    ),
                    "spurious_flagged": _number(m["spurious"].get("fraction_flagged")),
                    "wall_s": entry.runtime.wall_s,
                    "cpu_s": entry.runtime.cpu_s,
                    "peak_rss_mib": entry.runtime.peak_rss_mib,
                }
            )
    return rows


def _cell(value: Any, fmt: str = ".2f", scale: float = 1.0) -> str:
    number = _number(value)
    return "-" if math.isnan(number) else f"{number * scale:{fmt}}"


def comparison_markdown(entries: Sequence[FinderEntry], rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown: per-class C / R / F1 x 100 side by side, then a per-finder summary table."""
    names = [e.name for e in entries]
    classes = [*entries[0].metrics["classes"], *SUMMARY_ROWS]
    index = {(r["finder"], r["class"]): r for r in rows}
    split = entries[0].metrics.get("inputs", {}).get("split", "?")
    lines = [
        f"# Finders compared on the `{split}` split",
        "",
        "Completeness C, reliability R and F1 x 100 per class (C and R x 100). Truth objects "
        "below the S/N cut are not counted. `all (class-aware)`: a detection must carry the "
        "right class; `any class`: class ignored.",
        "",
        "| class | N true | " + " | ".join(f"{n} C | {n} R | {n} F1" for n in names) + " |",
        "|---|---:|" + "---:|---:|---:|" * len(names),
    ]
    for name in classes:
        cells = []
        for finder in names:
            r = index[(finder, name)]
            cells += [
                _cell(r["completeness"], ".1f", 100),
                _cell(r["reliability"], ".1f", 100),
                _cell(r["f1_x100"], ".1f"),
            ]
        n_true = index[(names[0], name)]["n_true"]
        lines.append(
            f"| {name} | {'-' if n_true is None else n_true} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "| finder | matching | mAP@0.5 (segm) | extended-multi found as one | spurious flagged "
        "| wall s | CPU s | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in entries:
        r = index[(entry.name, "all (class-aware)")]
        multi = entry.metrics["multi_island"]
        spur = entry.metrics["spurious"]
        lines.append(
            f"| {entry.name} | {entry.match} | {_cell(r['ap50_segm'], '.3f')} | "
            f"{_cell(r['multi_island_found_as_one'])} (N={multi.get('n', '-')}) | "
            f"{_cell(r['spurious_flagged'])} (N={spur.get('n', '-')}) | "
            f"{_cell(r['wall_s'], '.1f')} | {_cell(r['cpu_s'], '.1f')} | "
            f"{_cell(r['peak_rss_mib'], '.0f')} |"
        )
    lines += [
        "",
        "Matching: `mask` = mask IoU >= threshold; `position` = the truth mask contains the "
        "catalogue position. Finders without a `spurious` class flag no artefact (0 by "
        "construction). Run times are summed over the files listed:",
        "",
    ]
    for entry in entries:
        files = ", ".join(f"`{f}`" for f in entry.runtime.files) or "none given"
        lines.append(f"- {entry.name}: {files}")
    return "\n".join(lines) + "\n"


def plot_f1(rows: Sequence[Mapping[str, Any]], names: Sequence[str], path: Path) -> Path:
    """Grouped bars of F1 x 100 per class (and ``any class``), one bar per finder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = list(dict.fromkeys(r["class"] for r in rows if r["class"] != SUMMARY_ROWS[0]))
    index = {(r["finder"], r["class"]): r for r in rows}
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(1.4 + 1.3 * len(classes), 4.2))
    x = np.arange(len(classes))
    for k, finder in enumerate(names):
        values = np.array([_number(index[(finder, c)]["f1_x100"]) for c in classes])
        shown = np.nan_to_num(values, nan=0.0)
        bars = ax.bar(x - 0.4 + width * (k + 0.5), shown, width, label=finder)
        for bar, value in zip(bars, values, strict=True):
            label = "n/a" if math.isnan(value) else f"{value:.0f}"
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                bar.get_height() + 1,
                label,
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90 if len(names) > 3 else 0,
            )
    ax.set_xticks(x, classes, rotation=20, ha="right")
    ax.set_ylim(0, 115)
    ax.set_ylabel("F1 x 100")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _csv_cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else str(value)


def write_comparison(
    specs: Sequence[tuple[str, Path, Sequence[Path]]],
    out: Path,
    *,
    overwrite: bool = False,
    figure: bool = True,
) -> list[dict[str, Any]]:
    """Read the finders' evaluations and write ``comparison.{csv,md,png}`` into ``out``.

    Parameters
    ----------
    specs
        ``(name, evaluate-detector folder, run-time files)`` per finder, in table order.
    out
        Output folder (appears only when complete).
    overwrite
        Replace an existing ``out``.
    figure
        Also write ``comparison.png``.

    Returns
    -------
    list of dict
        The rows of ``comparison.csv``.
    """
    if out.exists() and not overwrite:
        from skysift.errors import OutputExistsError

        raise OutputExistsError(out)
    if not specs:
        raise ConfigError("--entry", "give at least one --entry NAME EVAL_DIR [RUNTIME ...]")
    entries = load_entries(specs)
    rows = comparison_rows(entries)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        with (tmp / "comparison.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(CSV_COLUMNS))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_cell(row[k]) for k in CSV_COLUMNS})
        (tmp / "comparison.md").write_text(comparison_markdown(entries, rows))
        if figure:
            plot_f1(rows, [e.name for e in entries], tmp / "comparison.png")
    return rows
