"""Show one map with each finder's objects side by side (class-coloured outlines, one PNG).

Reads:
  MAP             FITS map (Jy/beam, celestial WCS, beam), e.g. an `ingest-map` map.fits; read
                  lazily (large maps are shown every n-th pixel, n = ceil(side / --max-pixels))
  --panel LABEL CATALOGUE SEGMENTATION   one finder (repeat, left to right): a catalogue with
                  `id` and `class` columns (predict-map, run-baseline, truth) and its int32
                  segmentation on the map grid (pixel = catalogue id, 0 = none)
  --classes       class order of the legends (default: the project's default classes)

Writes:
  OUT             PNG (written atomically): one panel per finder, same pixels and stretch
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

from skysift.classes import DEFAULT_CLASSES

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift plot-finders``."""
    parser.add_argument("map", type=Path, help="FITS map (Jy/beam)")
    parser.add_argument(
        "--panel",
        action="append",
        nargs=3,
        required=True,
        metavar=("LABEL", "CATALOGUE", "SEGMENTATION"),
        help="a finder's label, catalogue and segmentation (repeat per finder)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output PNG")
    parser.add_argument("--classes", nargs="+", default=list(DEFAULT_CLASSES))
    parser.add_argument("--title", default=None, help="figure title (default: the map name)")
    parser.add_argument(
        "--max-pixels", type=int, default=1600, help="largest side shown per panel, pixels"
    )


def main(args: argparse.Namespace) -> None:
    """Read the map and the finders' outputs; write the figure."""
    from skysift.errors import ConfigError
    from skysift.predict.lazymap import open_map
    from skysift.report.finder_panels import plot_finder_panels, read_panel

    if args.max_pixels < 16:
        raise ConfigError("--max-pixels", f"must be at least 16 (got {args.max_pixels})")
    lazy_map = open_map(args.map)
    try:
        step = max(1, math.ceil(max(lazy_map.shape) / args.max_pixels))
        shown = lazy_map.image.subsampled(step)
        name = lazy_map.name
        shape = lazy_map.shape
    finally:
        lazy_map.close()
    panels = [
        read_panel(label, Path(catalogue), Path(segmentation), shape=shape, step=step)
        for label, catalogue, segmentation in args.panel
    ]
    shown_as = f" (every {step}th pixel shown)" if step > 1 else ""
    plot_finder_panels(
        args.out,
        shown,
        panels,
        step=step,
        title=(args.title or name) + shown_as,
        classes=args.classes,
    )
    log.info(
        "%s: %s -> %s",
        name, ", ".join(f"{p.label} {len(p.classes_by_id)}" for p in panels), args.out,
    )  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.plot_finders")
