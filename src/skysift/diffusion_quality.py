"""Quality of synthetic sets against the real objects of their source set, as a table.

Reads:
  --dataset DIR     the `build-cutouts` set the synthetic sources were pasted into
  --synthetic DIR   one or more `sample-diffusion` sets (e.g. the diffusion model's and the
                    trivial paste baseline's), labelled by their generator
  --backbone FILE   optional SSL backbone.pt (`skysift ssl-pretrain`): Frechet distance of its
                    features, synthetic vs held-out real windows (val + test splits), and the
                    recall per class, on synthetic and on held-out real windows, of a logistic
                    regression fitted to those features of the real train windows

Per class and set: median mask-obedience IoU (3-sigma islands touching the mask vs the mask),
median flux (Jy, mask sum / beam area) and size (mask pixels) with the KS statistic against the
real train objects of the class measured the same way; per set: background rms outside the
masks / that of the source cutout (1 = untouched noise) and the Frechet distances.

Writes --out: quality.csv (one row per set and class), quality.json (per-set summaries),
quality.md (both as Markdown tables).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift diffusion-quality``."""
    parser.add_argument("--dataset", required=True, type=Path, help="source cutout set")
    parser.add_argument("--synthetic", required=True, type=Path, nargs="+", help="synthetic sets")
    parser.add_argument("--backbone", type=Path, help="SSL backbone.pt for the Frechet distance")
    parser.add_argument("--out", required=True, type=Path, help="output folder")


def _markdown(rows: list[dict[str, object]], summaries: dict[str, dict[str, object]]) -> str:
    def fmt(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3g}"
        return "" if value is None else str(value)

    lines = ["# Synthetic sources: quality against the real ones", ""]
    if rows:
        keys = list(rows[0])
        lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(fmt(r.get(k)) for k in keys) + " |" for r in rows]
    lines += ["", "| set | " + " | ".join(next(iter(summaries.values()), {})) + " |"]
    lines.append("|---|" + "---|" * len(next(iter(summaries.values()), {})))
    for name, summary in summaries.items():
        lines.append(f"| {name} | " + " | ".join(fmt(v) for v in summary.values()) + " |")
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> None:
    """Measure every set and write the tables."""
    from skysift.detect.dataset import read_dataset_info
    from skysift.diffusion.quality import quality_rows
    from skysift.io.atomic import atomic_dir, write_csv_rows

    info = read_dataset_info(args.dataset)
    rows, summaries = [], {}
    for synthetic in args.synthetic:
        doc = json.loads((synthetic / "dataset.json").read_text())
        name = str(doc.get("synthetic", {}).get("generator", synthetic.name))
        if name in summaries:
            name = f"{name}:{synthetic.name}"
        set_rows, summary = quality_rows(
            synthetic, args.dataset, info.classes, backbone=args.backbone
        )
        rows += [{"set": name, **r} for r in set_rows]
        summaries[name] = summary
        log.info("%s: %s", name, summary)
    with atomic_dir(args.out, overwrite=True) as tmp:
        write_csv_rows(tmp / "quality.csv", rows)
        (tmp / "quality.json").write_text(json.dumps({"sets": summaries, "rows": rows}, indent=1))
        (tmp / "quality.md").write_text(_markdown(rows, summaries))


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.diffusion_quality")
