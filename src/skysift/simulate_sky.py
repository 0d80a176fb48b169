"""Simulate a radio continuum map with exact ground truth.

Reads: the ``simulate`` settings (--settings: inline JSON, or a YAML/JSON file holding the whole
project config or just the section); nothing else.

Writes into --out (built in a temporary folder and renamed when complete):
  map.fits           float32 map in Jy/beam: celestial WCS, BMAJ/BMIN/BPA, RESTFRQ/FREQ
  segmentation.fits  int32 object ids (0 = background); overlaps go to the brightest model
  truth.fits, .csv   one row per object, including those below the detection limit
  rms.fits           true noise rms in Jy/beam, NaN where blanked
  quicklook.png      the map with truth outlines coloured by class

The same settings and --seed give byte-identical map.fits and truth.csv.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from skysift.io.atomic import atomic_dir
from skysift.io.catalogue import write_table
from skysift.io.fits_map import write_image, write_map
from skysift.report.quicklook import plot_map_with_outlines
from skysift.settings import load_section
from skysift.sky.config import SimulationConfig
from skysift.sky.simulate import SimulatedSky, simulate_sky

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift simulate-sky``."""
    parser.add_argument(
        "--settings", help="simulate settings: inline JSON or a YAML/JSON file (default: demo)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--name", default="sim", help="map name (FITS OBJECT, truth 'map' column)")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (once complete)"
    )


def write_outputs(sky: SimulatedSky, folder: Path) -> None:
    """Write the map, segmentation, truth, rms and quick-look into ``folder``."""
    wcs = sky.radio_map.wcs
    write_map(folder / "map.fits", sky.radio_map)
    write_image(
        folder / "segmentation.fits",
        sky.segmentation,
        wcs,
        extra={"OBJECT": sky.radio_map.name, "COMMENT": "pixel = truth id, 0 = background"},
    )
    write_image(
        folder / "rms.fits", sky.rms, wcs, bunit="JY/BEAM", extra={"OBJECT": sky.radio_map.name}
    )
    write_table(sky.truth, folder / "truth.fits", folder / "truth.csv")
    n = len(sky.truth)
    plot_map_with_outlines(
        folder / "quicklook.png",
        sky.radio_map.data,
        sky.segmentation,
        sky.classes_by_id,
        title=f"{sky.radio_map.name}: simulated map with {n} truth objects",
    )


def main(args: argparse.Namespace) -> None:
    """Run the simulation and write its outputs atomically."""
    config = load_section(SimulationConfig, "simulate", args.settings)
    out = Path(args.out)
    start = time.perf_counter()
    with atomic_dir(out, overwrite=args.overwrite) as tmp:
        sky = simulate_sky(config, seed=args.seed, name=args.name)
        write_outputs(sky, tmp)
    ny, nx = sky.segmentation.shape
    log.info(
        "wrote %s: %d x %d map, %d objects in %.1f s",
        out,
        nx,
        ny,
        len(sky.truth),
        time.perf_counter() - start,
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.simulate_sky")
