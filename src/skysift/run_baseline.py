"""Run a traditional source finder (PyBDSF, or BANE + Aegean) on a map, as a skysift catalogue.

Reads:
  FINDER         pybdsf | aegean
  MAP            FITS map in Jy/beam with celestial WCS and a restoring beam (BMAJ/BMIN/BPA;
                 or give --beam / --survey); best the map.fits written by ingest-map/simulate-sky
Settings: section `baselines` of --settings (pybdsf: thresh_isl, thresh_pix, rms_box, ncores;
aegean: seedclip, floodclip, max_summits, bane_grid_pix, bane_box_pix, cores;
conversion: resolved_fraction, mask_level).

Writes (the folder appears only when complete):
  OUT/catalogue.{fits,csv}  one row per finder entry, skysift truth columns (class compact or
                            extended by fitted size; x/y 0-based pixels; fluxes Jy/beam, Jy)
  OUT/segmentation.fits     int32, pixel = catalogue id: PyBDSF island pixels (islands with
                            several sources split by nearest Gaussian); Aegean fitted ellipses
  OUT/runtime.json          wall s, CPU s, peak RSS (MiB) of the finder, its settings and version
  OUT/pybdsf_*.fits, pybdsf.log | OUT/aegean_comp.fits, bane_{bkg,rms}.fits   native outputs
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.baselines.config import BaselineConfig
from skysift.settings import load_section

log = logging.getLogger(__name__)

FINDERS = ("pybdsf", "aegean")


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift run-baseline``."""
    parser.add_argument("finder", choices=FINDERS, help="source finder to run")
    parser.add_argument("map", type=Path, help="FITS map (Jy/beam, WCS, beam)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument(
        "--beam",
        nargs="+",
        type=float,
        metavar="ARCSEC",
        help="BMAJ BMIN [BPA]: beam (arcsec, deg) when the map header has none",
    )
    parser.add_argument("--survey", help="known survey whose beam to use when the header has none")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def main(args: argparse.Namespace) -> None:
    """Read the map, run the finder, convert and write its catalogue."""
    from skysift.baselines.common import write_result
    from skysift.errors import ConfigError
    from skysift.io.atomic import atomic_dir
    from skysift.io.beam import Beam
    from skysift.io.fits_map import read_map

    config = load_section(BaselineConfig, "baselines", args.settings)
    beam = None
    if args.beam is not None:
        if len(args.beam) not in (2, 3):
            raise ConfigError("--beam", f"give BMAJ BMIN [BPA], got {len(args.beam)} values")
        beam = Beam(*args.beam)
    radio_map = read_map(args.map, beam=beam, survey=args.survey)
    conv = config.conversion
    with atomic_dir(args.out, overwrite=args.overwrite) as tmp:
        if args.finder == "pybdsf":
            from skysift.baselines.pybdsf import run_pybdsf

            opts = config.pybdsf
            result = run_pybdsf(
                radio_map,
                tmp,
                thresh_isl=opts.thresh_isl,
                thresh_pix=opts.thresh_pix,
                rms_box=opts.rms_box,
                ncores=opts.ncores,
                resolved_fraction=conv.resolved_fraction,
                map_path=args.map,
            )
        else:
            from skysift.baselines.aegean import run_aegean

            result = run_aegean(
                radio_map,
                tmp,
                **config.aegean.model_dump(),
                resolved_fraction=conv.resolved_fraction,
                mask_level=conv.mask_level,
                map_path=args.map,
            )
        write_result(result, tmp, radio_map)
    log.info(
        "%s: %d entries on %s in %.1f s wall, %.1f s CPU; written to %s",
        args.finder,
        len(result.catalogue),
        radio_map.name,
        result.runtime.wall_s,
        result.runtime.cpu_s,
        args.out,
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.run_baseline")
