"""Read a survey FITS map as it comes and write the standard map with background and rms.

Reads: MAP, a FITS image (2-D, or 3-D/4-D with length-1 FREQ/STOKES axes; BUNIT Jy/beam,
mJy/beam or uJy/beam). The beam comes from BMAJ/BMIN/BPA or AIPS HISTORY cards, else from
--beam, else from --survey; the frequency from the header, else --frequency or the survey.
Writes, all or nothing, into --out DIR:
  map.fits         2-D float32 map in Jy/beam with celestial WCS, BMAJ/BMIN/BPA and frequency
                   (reprojected to ingest.pixel_scale_arcsec of --settings when that is set)
  background.fits  mesh background in Jy/beam, same grid
  rms.fits         mesh noise rms in Jy/beam, same grid
  ingest.json      what was read and what was assumed (beam and frequency source, unit
                   conversion, fixed or dropped header cards, median rms)
"""

from __future__ import annotations

import argparse

from skysift.errors import ConfigError
from skysift.io.config import IngestConfig
from skysift.io.fits_map import Beam
from skysift.io.ingest import ingest_map
from skysift.io.surveys import get_survey
from skysift.settings import load_section


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift ingest-map``."""
    parser.add_argument("map", metavar="MAP", help="input FITS map")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--name", help="map name (default: the file name without .fits)")
    parser.add_argument(
        "--beam",
        nargs="+",
        type=float,
        metavar="ARCSEC",
        help="BMAJ BMIN [BPA]: beam FWHM axes in arcsec and PA in deg, used when the header "
        "has no beam",
    )
    parser.add_argument(
        "--survey", help="known survey (FIRST, NVSS, RACS-low ...) giving beam and frequency"
    )
    parser.add_argument("--frequency", type=float, metavar="HZ", help="frequency in Hz")
    parser.add_argument(
        "--settings", help="ingest settings: YAML/JSON file or inline JSON (section 'ingest')"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def beam_from_argument(values: list[float] | None) -> Beam | None:
    """Turn ``--beam BMAJ BMIN [BPA]`` (arcsec, arcsec, deg) into a :class:`Beam`."""
    if values is None:
        return None
    if len(values) not in (2, 3):
        raise ConfigError("--beam", f"expected BMAJ BMIN [BPA], got {len(values)} numbers")
    try:
        return Beam(values[0], values[1], values[2] if len(values) == 3 else 0.0)
    except ValueError as exc:
        raise ConfigError("--beam", str(exc)) from exc


def main(args: argparse.Namespace) -> None:
    """Run ``skysift ingest-map``."""
    settings = load_section(IngestConfig, "ingest", args.settings)
    beam = beam_from_argument(args.beam)
    if args.survey is not None:
        get_survey(args.survey, key="--survey")
    if args.frequency is not None and not args.frequency > 0:
        raise ConfigError(
            "--frequency", f"must be a positive frequency in Hz, got {args.frequency}"
        )
    ingest_map(
        args.map,
        args.out,
        settings=settings,
        name=args.name,
        beam=beam,
        survey=args.survey,
        frequency_hz=args.frequency,
        overwrite=args.overwrite,
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.ingest_map")
