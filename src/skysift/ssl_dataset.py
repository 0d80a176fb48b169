"""Make one cutout set of the SSL benchmark (labelled or unlabelled).

KIND and what it reads:
  labelled  --sky DIR (repeat): simulated map folders with map.fits, segmentation.fits and
            truth.fits; one source-centred cutout per object of the six RGZ classes 1C-1P,
            1C-2P, 1C-3P, 2C-2P, 2C-3P, 3C-3P (components = islands of its truth mask, peaks =
            local maxima of its model: the truth's n_islands/n_peaks), train/test split by sky
            region, truth masks kept
  random    --map FITS (repeat): cutouts at random positions, as they fall (mostly noise);
            plus the FIRST cutouts of ssl.unlabelled.first_cutouts_dir when set
  curated   --map FITS --catalogue CAT (repeat, in pairs): cutouts centred on catalogue sources
            (truth or a finder's catalogue: 0-based x, y; snr cut when it has snr); plus the
            FIRST cutouts (their centres) when set
  mirabest  --mirabest DIR (default: ssl.mirabest_dir, ../shared/data/mirabest, fetch cache):
            MiraBest Confident, FR I (codes 0,1,2) vs FR II (5,6), standard train/test split
  folder    --images DIR [--labels CSV --classes ...]: a user's FITS cutouts or images, labels
            from a CSV (file + label columns, optional split); unknown labels, unreadable or
            empty images are errors naming the file
Settings: section `ssl` of --settings (cutout_pix, labelled, unlabelled, seed ...).

Writes the folder --out (it appears only when complete):
  cutouts.npz       raw pixels (N, H, W) float32, labels, splits, ids (and truth masks)
  dataset.json      kind, classes, counts per split and class, sources, seed, git revision
  class_balance.md  images per class and split
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.errors import ConfigError
from skysift.settings import load_section
from skysift.ssl.config import SSLConfig

log = logging.getLogger(__name__)

KINDS = ("labelled", "random", "curated", "mirabest", "folder")


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift ssl-dataset``."""
    parser.add_argument("kind", choices=KINDS, help="which set to make")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument(
        "--sky", action="append", default=[], type=Path, help="labelled: simulated map folder"
    )
    parser.add_argument("--map", action="append", default=[], type=Path, help="map FITS")
    parser.add_argument(
        "--catalogue", action="append", default=[], type=Path, help="curated: catalogue per map"
    )
    parser.add_argument("--mirabest", type=Path, default=None, help="MiraBest batches folder")
    parser.add_argument("--images", type=Path, default=None, help="folder: the images")
    parser.add_argument("--labels", type=Path, default=None, help="folder: labels CSV")
    parser.add_argument("--classes", nargs="+", default=None, help="folder: known labels")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def _first_cutouts(config: SSLConfig, mirabest: Path | None) -> list[Path]:
    """FIRST cutout files of the config, without MiraBest test images when asked."""
    from skysift.ssl.external import find_mirabest, image_files, mirabest_test_ids

    folder = config.unlabelled.first_cutouts_dir
    if not folder:
        return []
    files = image_files(folder)
    if config.unlabelled.exclude_mirabest_test:
        try:
            test = mirabest_test_ids(find_mirabest(mirabest or config.mirabest_dir))
        except Exception as exc:  # no MiraBest here: nothing to exclude
            log.info("MiraBest not found (%s); no FIRST cutout excluded", exc)
            test = set()
        kept = [p for p in files if p.name.split(".fits")[0] not in test]
        log.info("FIRST cutouts: %d, %d of them MiraBest test images left out",
                 len(files), len(files) - len(kept))  # fmt: skip
        files = kept
    return files


def main(args: argparse.Namespace) -> None:
    """Build the set and write it."""
    from skysift.ssl import datasets, external, survey

    config = load_section(SSLConfig, "ssl", args.settings)
    if args.kind == "labelled":
        if not args.sky:
            raise ConfigError("--sky", "labelled needs at least one simulated map folder")
        maps = [
            survey.LabelledMap(d / "map.fits", d / "segmentation.fits", d / "truth.fits")
            for d in args.sky
        ]
        cutouts = survey.labelled_from_maps(
            maps, config.labelled, cutout_pix=config.cutout_pix,
            crop_fraction=config.crop_fraction,
            min_valid_fraction=config.unlabelled.min_valid_fraction, seed=config.seed,
        )  # fmt: skip
    elif args.kind in ("random", "curated"):
        first = _first_cutouts(config, args.mirabest)
        if not args.map and not first:
            raise ConfigError(
                "--map", f"{args.kind} needs maps (or ssl.unlabelled.first_cutouts_dir)"
            )
        if args.kind == "curated" and len(args.catalogue) != len(args.map):
            raise ConfigError("--catalogue", "give one --catalogue per --map, in the same order")
        radio_maps = survey.read_survey_maps(args.map)
        radio_maps += survey.read_survey_maps(first, survey="FIRST")
        if args.kind == "random":
            cutouts = survey.random_cutouts(
                radio_maps, config.unlabelled.n_random, cutout_pix=config.cutout_pix,
                min_valid_fraction=config.unlabelled.min_valid_fraction, seed=config.seed,
            )  # fmt: skip
        else:
            from skysift.io.catalogue import read_truth

            tables = [read_truth(p) for p in args.catalogue] + [None] * len(first)
            cutouts = survey.curated_cutouts(
                radio_maps, tables, config.unlabelled.n_curated, cutout_pix=config.cutout_pix,
                min_snr=config.unlabelled.curated_min_snr,
                min_valid_fraction=config.unlabelled.min_valid_fraction, seed=config.seed,
            )  # fmt: skip
    elif args.kind == "mirabest":
        cutouts = external.load_mirabest(
            external.find_mirabest(args.mirabest or config.mirabest_dir)
        )
    else:
        if args.images is None:
            raise ConfigError("--images", "folder needs --images DIR")
        cutouts = external.load_folder(
            args.images, labels_csv=args.labels, classes=args.classes, size=config.cutout_pix
        )
    datasets.save_cutout_set(cutouts, args.out, overwrite=args.overwrite)
    log.info("%s set: %s", args.kind, cutouts.counts())


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.ssl_dataset")
