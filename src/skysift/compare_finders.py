"""Put finders scored by `skysift evaluate-detector` side by side: table, CSV and figure.

Reads, per finder (repeat --entry, in the order of the table's columns):
  --entry NAME EVAL_DIR [RUNTIME ...]
      NAME       label of the finder in the table (e.g. skysift, "PyBDSF (mask)")
      EVAL_DIR   an evaluate-detector output folder (its metrics.json)
      RUNTIME    optional run-time records summed for the finder: runtime.json of
                 `skysift run-baseline` (one per map) or Snakemake benchmark TSVs
All entries must have been scored on the same split with the same classes and truth cut.
Numbers are copied from those files, never recomputed.

Writes (the folder appears only when complete):
  OUT/comparison.csv   one row per finder and class: completeness, reliability, F1 x 100,
                       AP50, extended-multi found as one, spurious flagged, wall/CPU s, peak MiB
  OUT/comparison.md    per-class completeness / reliability / F1 x 100 side by side, and a
                       per-finder summary (matching mode, mAP, multi-island, spurious, run time)
  OUT/comparison.png   grouped bars of F1 x 100 per class per finder
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.errors import ConfigError

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift compare-finders``."""
    parser.add_argument(
        "--entry",
        action="append",
        nargs="+",
        default=[],
        metavar="ITEM",
        help="NAME EVAL_DIR [RUNTIME ...] of one finder (repeat per finder)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--no-figure", action="store_true", help="skip comparison.png")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def main(args: argparse.Namespace) -> None:
    """Parse the entries and write the comparison."""
    from skysift.report.comparison import write_comparison

    specs = []
    for items in args.entry:
        if len(items) < 2:
            raise ConfigError(
                "--entry", f"expected NAME EVAL_DIR [RUNTIME ...], got {' '.join(items)!r}"
            )
        specs.append((items[0], Path(items[1]), [Path(p) for p in items[2:]]))
    rows = write_comparison(specs, args.out, overwrite=args.overwrite, figure=not args.no_figure)
    for row in rows:
        if row["class"] == "any class":
            log.info(
                "%-20s any class: C=%.3f R=%.3f F1x100=%.1f",
                row["finder"],
                row["completeness"],
                row["reliability"],
                row["f1_x100"],
            )
    log.info("comparison written to %s", args.out)


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.compare_finders")
