"""Quality of synthetic sets against the real objects of their source set, as a table.

Reads:
  --dataset DIR     the `build-cutouts` set the synthetic sources were pasted into
  --synthetic DIR   one or more `sample-diffusion` sets (e.g. the diffusion model's and the
                    trivial paste baseline's), labelled by their generator
  --backbone FILE   optional SSL backbone.pt (`skysift ssl-pretrain`): Frechet distance of its
                    features, synthetic vs held-out real windows (val + test splits), and the
                    recall per class, on synthetic and on held-out real windows, of a logistic
                    regression fitted to those features of the real train windows
  --settings        section `diffusion.quality` (finder_cutouts_per_class, seed)
  --finder-settings section `baselines.pybdsf` (PyBDSF's thresholds)

Per class and set: median mask-obedience IoU (3-sigma islands touching the mask vs the mask),
median flux (Jy, mask sum / beam area) and size (mask pixels) with the KS statistic against the
real train objects of the class measured the same way; per set: background rms outside the
masks / that of the source cutout (1 = untouched noise) and the Frechet distances. With
``finder_cutouts_per_class`` > 0, PyBDSF's view beside them (columns ``finder_*``): the fraction of
objects PyBDSF finds, the median IoU of its islands with the masks, its flux (Jy) and island size
(pixels) of the found ones with KS statistics, synthetic vs real, on a sample of whole cutouts.

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
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument("--finder-settings", help="the `baselines.pybdsf` section (PyBDSF)")
    parser.add_argument(
        "--finder-cutouts-per-class",
        type=int,
        help="override diffusion.quality.finder_cutouts_per_class (0 = no PyBDSF)",
    )


def _table(rows: list[dict[str, object]], keys: list[str]) -> list[str]:
    def fmt(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3g}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    return lines + ["| " + " | ".join(fmt(r.get(k)) for k in keys) + " |" for r in rows]


def _markdown(rows: list[dict[str, object]], summaries: dict[str, dict[str, object]]) -> str:
    """Per-class rows (mask-based measures, then PyBDSF's view if measured), per-set summaries."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    finder = [k for k in keys if k.startswith("finder_")]
    lines = ["# Synthetic sources: quality against the real ones", ""]
    if rows:
        lines += _table(rows, [k for k in keys if k not in finder])
    if finder:
        lines += ["", "## As PyBDSF sees them (synthetic vs real objects)", ""]
        lines += _table(rows, ["set", "class", *finder])
    summary_keys = list(dict.fromkeys(k for s in summaries.values() for k in s))
    lines += ["", *_table([{"set": n, **s} for n, s in summaries.items()], ["set", *summary_keys])]
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> None:
    """Measure every set and write the tables."""
    from skysift.baselines.config import PyBDSFConfig
    from skysift.detect.dataset import read_dataset_info
    from skysift.diffusion.config import QualityConfig
    from skysift.diffusion.finder_quality import finder_columns, finder_objects
    from skysift.diffusion.quality import quality_rows
    from skysift.io.atomic import atomic_dir, write_csv_rows
    from skysift.settings import load_section

    settings = load_section(
        QualityConfig,
        "diffusion.quality",
        args.settings,
        finder_cutouts_per_class=args.finder_cutouts_per_class,
    )
    finder = load_section(PyBDSFConfig, "baselines.pybdsf", args.finder_settings)
    info = read_dataset_info(args.dataset)
    per_class = settings.finder_cutouts_per_class
    finder_real: list[dict[str, object]] = []
    if per_class:
        finder_real, cost = finder_objects(
            args.dataset,
            synthetic_only=False,
            settings=finder,
            cutouts_per_class=per_class,
            seed=settings.seed,
        )
        log.info("PyBDSF on the real set: %s", cost)
    rows, summaries = [], {}
    for synthetic in args.synthetic:
        doc = json.loads((synthetic / "dataset.json").read_text())
        name = str(doc.get("synthetic", {}).get("generator", synthetic.name))
        if name in summaries:
            name = f"{name}:{synthetic.name}"
        set_rows, summary = quality_rows(
            synthetic, args.dataset, info.classes, backbone=args.backbone
        )
        if per_class:
            fake, cost = finder_objects(
                synthetic,
                synthetic_only=True,
                settings=finder,
                cutouts_per_class=per_class,
                seed=settings.seed,
            )
            for row in set_rows:
                row.update(finder_columns(fake, finder_real, str(row["class"])))
            summary["finder_cutouts"] = cost["cutouts"]
            summary["finder_found_synthetic_all"] = (
                sum(bool(x["found"]) for x in fake) / len(fake) if fake else None
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
