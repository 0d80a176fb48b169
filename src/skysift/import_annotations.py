"""Turn a user's labels on an ingested map into truth + segmentation (the simulator's format).

Reads: --map DIR/map.fits (written by ingest-map; background.fits and rms.fits beside it are
used when present), and exactly one of
  --catalogue FILE  CSV or FITS table: ra, dec (deg; RA/DEC/RAJ2000/DEJ2000 accepted), class,
                    optional major, minor (arcsec), pa (deg) and id (with --masks SEG.fits, an
                    int image on the map grid whose pixel values are those ids)
  --regions FILE    DS9 region file (circle, ellipse, polygon, box, point; fk5/icrs/image);
                    class from text={...} or tag={...}, default compact
Writes, all or nothing, into --out DIR2:
  truth.fits, truth.csv  one row per object with the truth catalogue columns (fluxes measured
                         on the map inside each mask: peak Jy/beam, integrated Jy)
  segmentation.fits      int32 image on the map grid, pixel = object id, 0 = none
Sources off the map or on blanked pixels are skipped (their count is logged).
"""

from __future__ import annotations

import argparse

from skysift.errors import ConfigError
from skysift.io.annotations import import_annotations
from skysift.io.config import IngestConfig
from skysift.settings import load_section


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift import-annotations``."""
    parser.add_argument("--map", required=True, help="ingested map (DIR/map.fits)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--catalogue", help="CSV or FITS catalogue with ra, dec, class")
    source.add_argument("--regions", help="DS9 region file")
    parser.add_argument("--masks", help="int segmentation FITS whose values are catalogue ids")
    parser.add_argument("--out", required=True, metavar="DIR2", help="output folder")
    parser.add_argument("--name", help="map name for the 'map' column (default: from the map)")
    parser.add_argument(
        "--settings", help="ingest settings: YAML/JSON file or inline JSON (section 'ingest')"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def main(args: argparse.Namespace) -> None:
    """Run ``skysift import-annotations``."""
    if args.masks is not None and args.catalogue is None:
        raise ConfigError("--masks", "needs --catalogue (the catalogue's id column names masks)")
    settings = load_section(IngestConfig, "ingest", args.settings)
    import_annotations(
        args.map,
        args.out,
        catalogue=args.catalogue,
        regions=args.regions,
        masks=args.masks,
        settings=settings,
        name=args.name,
        overwrite=args.overwrite,
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.import_annotations")
