"""Download public data into a checksummed local cache.

NAME is one of:
  list      print the datasets with their sources, licences and citations
  first     VLA FIRST cutouts from NASA SkyView, by --position RA DEC or --positions FILE.csv
  nvss      NVSS cutouts from NASA SkyView, same options
  mirabest  MiraBest radio galaxy batches (Zenodo record 4288837)
  ck04      Castelli & Kurucz ATLAS9 grid subset from STScI CDBS -> ck04_subset.npz

Reads: the network (URLs in the `fetch` settings), --positions CSV (columns ra, dec in deg).
Writes, under the cache folder (--cache-dir, fetch.cache_dir, $SKYSIFT_CACHE or
~/.cache/skysift), one folder per dataset with a manifest.json (sha256, size, URL, time):
  first/<ra>_<dec>.fits, nvss/<ra>_<dec>.fits      FITS images in Jy/beam
  mirabest/batches/{data_batch_1..7,test_batch,batches.meta}   verified against known sha256
  ck04/ck04models/<zdir>/<zdir>_<teff>.fits and ck04/ck04_subset.npz
Verified cached files are not downloaded again (logged as "cached"); --force re-downloads.
Files appear under their final names only when complete and verified.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.errors import ConfigError
from skysift.fetch.config import FetchConfig
from skysift.fetch.datasets import DATASETS, format_listing
from skysift.settings import load_section

log = logging.getLogger(__name__)

CHOICES = ("list", *DATASETS)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift fetch-data``."""
    parser.add_argument(
        "name", choices=CHOICES, metavar="NAME", help=f"one of {', '.join(CHOICES)}"
    )
    parser.add_argument(
        "--settings", help="fetch settings: project config YAML, or inline JSON of the section"
    )
    parser.add_argument("--cache-dir", help="cache folder (overrides fetch.cache_dir)")
    parser.add_argument("--force", action="store_true", help="download again even if cached")
    cut = parser.add_argument_group("first / nvss cutouts")
    cut.add_argument(
        "--position",
        nargs=2,
        type=float,
        metavar=("RA", "DEC"),
        help="cutout centre, J2000 degrees",
    )
    cut.add_argument("--positions", help="CSV file with columns ra, dec (degrees), one per cutout")
    cut.add_argument("--pixels", type=int, default=300, help="image side in pixels (default 300)")
    cut.add_argument(
        "--size-arcmin",
        type=float,
        help='image side in arcmin (default: pixels x native scale, 1.8"/px FIRST, 15"/px NVSS)',
    )
    grid = parser.add_argument_group("ck04")
    grid.add_argument(
        "--teff",
        nargs="+",
        type=int,
        metavar="K",
        help="only these Teff values (K); default: all 76 of the subset",
    )


def _reject(args: argparse.Namespace, flags: dict[str, object], name: str) -> None:
    for flag, value in flags.items():
        if value not in (None, False):
            raise ConfigError(flag, f"does not apply to `fetch-data {name}`")


def main(args: argparse.Namespace) -> None:
    """Fetch the named dataset (or print the list)."""
    name: str = args.name
    if name == "list":
        print(format_listing(), end="")
        return
    config = load_section(FetchConfig, "fetch", args.settings, cache_dir=args.cache_dir)
    cut_flags = {
        "--position": args.position,
        "--positions": args.positions,
        "--size-arcmin": args.size_arcmin,
    }
    if name in ("first", "nvss"):
        _reject(args, {"--teff": args.teff}, name)
        from skysift.fetch.skyview import check_position, fetch_cutouts, read_positions

        if (args.position is None) == (args.positions is None):
            raise ConfigError(
                "--position",
                f"give exactly one of --position RA DEC or --positions FILE for {name}",
            )
        if args.position is not None:
            ra, dec = args.position
            check_position(ra, dec)
            positions = [(ra, dec)]
        else:
            positions = read_positions(args.positions)
        paths = fetch_cutouts(
            positions,
            survey=name,
            config=config,
            pixels=args.pixels,
            size_arcmin=args.size_arcmin,
            force=args.force,
        )
        log.info("%d %s cutout(s) in %s", len(paths), name, Path(paths[0]).parent)
    elif name == "mirabest":
        _reject(args, {**cut_flags, "--teff": args.teff}, name)
        from skysift.fetch.mirabest import fetch_mirabest

        folder = fetch_mirabest(config=config, force=args.force)
        log.info("MiraBest batches in %s", folder)
    elif name == "ck04":
        _reject(args, cut_flags, name)
        from skysift.fetch.ck04 import fetch_ck04

        npz = fetch_ck04(config=config, teff=args.teff, force=args.force)
        log.info("ck04 grid in %s", npz)


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.fetch_data")
