"""Cut maps into a COCO training set with train/val/test splits by sky region.

Reads, per map (repeat the three flags in the same order for several maps):
  --map          FITS map in Jy/beam with celestial WCS and BMAJ/BMIN/BPA
  --segmentation int32 FITS on the map's grid (0 = background, pixel = object id)
  --truth        truth catalogue (FITS or CSV) with the skysift truth columns
Settings: section `cutouts` of --settings (size_pix, stride_pix, split, region_block_pix,
normalisation, class_map, min_mask_area_pix, keep_truncated, empty_fraction, ...).

Writes (the folder appears only when complete):
  OUT/images/{train,val,test}/<map>_<x0>_<y0>.fits  raw float32 cutouts (Jy/beam, WCS, beam)
  OUT/annotations/{train,val,test}.json             COCO with RLE masks and science columns
  OUT/dataset.json                                  classes, normalisation spec, counts, seed,
                                                    version and git revision
  OUT/class_balance.{csv,md,png}                    objects per class and split
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.classes import DEFAULT_CLASSES
from skysift.data.config import CutoutConfig
from skysift.errors import ConfigError
from skysift.settings import load_section

log = logging.getLogger(__name__)

#: Default seed, equal to the project config's default ``seed``.
DEFAULT_SEED = 42


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift build-cutouts``."""
    parser.add_argument(
        "--map", action="append", default=[], type=Path, help="map FITS (repeat per map)"
    )
    parser.add_argument(
        "--segmentation",
        action="append",
        default=[],
        type=Path,
        help="segmentation FITS of the map at the same position",
    )
    parser.add_argument(
        "--truth",
        action="append",
        default=[],
        type=Path,
        help="truth catalogue of the map at the same position",
    )
    parser.add_argument("--out", required=True, type=Path, help="output dataset folder")
    parser.add_argument(
        "--classes",
        nargs="+",
        default=list(DEFAULT_CLASSES),
        help=f"classes in category-id order (default: {' '.join(DEFAULT_CLASSES)})",
    )
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"split seed (default {DEFAULT_SEED})"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def main(args: argparse.Namespace) -> None:
    """Validate the arguments and build the dataset."""
    from skysift.data.cutouts import MapInputs, build_dataset

    counts = {"--map": len(args.map), "--segmentation": len(args.segmentation)}
    counts["--truth"] = len(args.truth)
    if len(set(counts.values())) != 1:
        given = ", ".join(f"{k} x{v}" for k, v in counts.items())
        raise ConfigError(
            "--map/--segmentation/--truth",
            f"give one of each per map, in the same order (got {given})",
        )
    if not args.map:
        raise ConfigError("--map", "no maps given; pass --map M --segmentation S --truth T")
    if len(set(args.classes)) != len(args.classes):
        raise ConfigError("--classes", f"class names must be distinct, got {args.classes}")
    config = load_section(CutoutConfig, "cutouts", args.settings)
    inputs = [
        MapInputs(m, s, t) for m, s, t in zip(args.map, args.segmentation, args.truth, strict=True)
    ]
    summary = build_dataset(
        inputs,
        args.out,
        config=config,
        classes=args.classes,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    for split, count in summary["counts"].items():
        log.info("%s: %d images, %d annotations", split, count["images"], count["annotations"])
    log.info("dropped cutouts: %s; dataset in %s", summary["dropped_cutouts"], args.out)


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.build_cutouts")
