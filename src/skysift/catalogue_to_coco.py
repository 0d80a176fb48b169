"""Cut a map-level finder catalogue into COCO results on the cutouts of a dataset split.

Any whole-map finder (PyBDSF or Aegean via `skysift run-baseline`, or skysift on whole maps)
is then scored by `skysift evaluate-detector` on exactly the cutouts the detector is scored on.

Reads:
  --dataset DIR        a `skysift build-cutouts` folder (dataset.json, annotations/<split>.json;
                       its COCO images carry map, x0, y0, width, height)
  per map, repeated in the same order (one triple per map that has cutouts in the split):
  --map-name NAME      the map's name as the dataset spells it (dataset.json "maps"[].name)
  --catalogue F        the finder's catalogue with the truth columns (catalogue.fits or .csv)
  --segmentation F     int32 FITS on the map's grid, pixel = catalogue id (segmentation.fits)

For each cutout, every catalogue id present in the cutout's window of the segmentation (with at
least --min-area pixels; default: the dataset's min_mask_area_pix) becomes one result: RLE mask,
bbox, category from the catalogue class (it must be a dataset class), score (1.0, or from
--score-column: values in [0, 1] as they are, otherwise their rank mapped onto [0.5, 1]), and
the extra fields object_id, x, y (catalogue position in 0-based cutout pixels), int_flux (Jy),
peak_flux (Jy/beam) and truncated.

Writes (atomically):
  --out F              COCO results JSON (list of detections), as `skysift predict-cutouts` does
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.errors import ConfigError

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift catalogue-to-coco``."""
    parser.add_argument("--dataset", required=True, type=Path, help="build-cutouts folder")
    parser.add_argument("--split", default="test", help="split whose cutouts to use (test)")
    parser.add_argument(
        "--map-name",
        action="append",
        default=[],
        metavar="NAME",
        help="map name in the dataset (repeat once per map)",
    )
    parser.add_argument(
        "--catalogue",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="finder catalogue of that map (truth columns; repeat once per map)",
    )
    parser.add_argument(
        "--segmentation",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="finder segmentation of that map (pixel = catalogue id; repeat once per map)",
    )
    parser.add_argument("--out", required=True, type=Path, help="COCO results JSON to write")
    parser.add_argument(
        "--score-column", help="catalogue column giving the scores (e.g. snr); default 1.0"
    )
    parser.add_argument(
        "--min-area",
        type=int,
        help="minimum visible pixels of an entry in a cutout (default: the dataset's rule)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def main(args: argparse.Namespace) -> None:
    """Check the per-map triples, convert and write the results."""
    from skysift.evaluate.catalogue_to_coco import run_catalogue_to_coco

    counts = (len(args.map_name), len(args.catalogue), len(args.segmentation))
    if len(set(counts)) != 1:
        raise ConfigError(
            "--map-name",
            f"give one --map-name, --catalogue and --segmentation per map; got {counts[0]} "
            f"names, {counts[1]} catalogues and {counts[2]} segmentations",
        )
    if args.min_area is not None and args.min_area < 1:
        raise ConfigError("--min-area", f"must be at least 1 pixel, got {args.min_area}")
    entries = list(zip(args.map_name, args.catalogue, args.segmentation, strict=True))
    results = run_catalogue_to_coco(
        dataset=args.dataset,
        split=args.split,
        entries=entries,
        out=args.out,
        score_column=args.score_column,
        min_area_pix=args.min_area,
        overwrite=args.overwrite,
    )
    log.info("wrote %d results to %s", len(results), args.out)


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.catalogue_to_coco")
