"""Synthesise stellar SEDs with catalogue-like photometry (Castelli & Kurucz models).

Reads: the ``sed`` settings (--settings: inline JSON, or a YAML/JSON file holding the whole
project config or just the section); the ck04 model grid ``ck04_subset.npz`` (sed.grid_path,
else ../shared/data/ck04, else the cache filled by `skysift fetch-data ck04`); pyphot's passband
library; optionally the Green et al. (2021) real stars (--compare-real).

Writes into --out (built in a temporary folder and renamed when complete):
  seds.fits, seds.csv   one row per star: teff (K), logg, feh, mass, radius (Rsun), distance
                        (pc), av, has_dust, dust_tau, dust_temp (K), model_source
                        (ck04 / cool_extension), logg_clamped; per band mag_<b> (Vega),
                        err_<b>, mag_ab_<b>, flux_<b> and flux_err_<b> (Jy), mask_<b>
                        (True = missing; values NaN), mag_true_<b> (noise-free Vega)
  bands.json            band names, pyphot names, Vega/AB zero points, pivot and effective
                        wavelengths (um), error model and missing rates
  seds_overview.png     example SEDs with and without dust; G-Ks vs W1-W4
  compare_real.png, compare_real.csv   (with --compare-real) colour-colour diagrams side by
                        side and median colours per Teff bin, synthetic photospheres vs real

The same settings and --seed give identical tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from skysift.io.atomic import atomic_dir, atomic_path
from skysift.io.catalogue import write_table
from skysift.sed.config import SedConfig
from skysift.sed.grid import load_grid
from skysift.sed.synth import prepare, synthesize
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift sed-synth``."""
    parser.add_argument(
        "--settings", help="sed settings: inline JSON or a YAML/JSON file (default: demo)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--n", type=int, help="number of SEDs (overrides sed.n_seds)")
    parser.add_argument("--grid", help="ck04_subset.npz or its folder (overrides sed.grid_path)")
    parser.add_argument(
        "--compare-real",
        metavar="PATH",
        help="green2020 folder or CSV: also write compare_real.png/.csv",
    )
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (once complete)"
    )


def main(args: argparse.Namespace) -> None:
    """Synthesise the SEDs and write table, band description and figures atomically."""
    from skysift.sed.compare import (
        comparison_table,
        load_green2020,
        real_vega_mags,
        synthetic_photospheres,
    )
    from skysift.sed.plots import plot_overview, plot_real_comparison

    config = load_section(SedConfig, "sed", args.settings, n_seds=args.n, grid_path=args.grid)
    out = Path(args.out)
    start = time.perf_counter()
    real = load_green2020(args.compare_real) if args.compare_real else None
    grid = load_grid(config.grid_path)
    with atomic_dir(out, overwrite=args.overwrite) as tmp:
        sedset = synthesize(grid, config, seed=args.seed)
        elapsed = time.perf_counter() - start
        write_table(sedset.table, tmp / "seds.fits", tmp / "seds.csv")
        bands = sedset.passbands.as_json()
        for entry in bands:
            entry.update(config.bands[entry["name"]].model_dump())
        description = {
            "grid": str(grid.path),
            "seed": args.seed,
            "n_seds": config.n_seds,
            "magnitudes": "mag_<b>: Vega; mag_ab_<b>: AB; flux_<b>: Jy; mask_<b> True = missing",
            "bands": bands,
        }
        with atomic_path(tmp / "bands.json") as path:
            path.write_text(json.dumps(description, indent=2) + "\n")
        _, curve = prepare(grid, config)
        plot_overview(tmp / "seds_overview.png", sedset, grid, config, curve)
        if real is not None:
            real_mags = real_vega_mags(real, sedset.passbands)
            real_teff = np.asarray(real["teff"], float)
            syn_teff, syn_mags = synthetic_photospheres(grid, real, config=config, seed=args.seed)
            table = comparison_table(real_teff, real_mags, syn_teff, syn_mags)
            with atomic_path(tmp / "compare_real.csv") as path:
                table.write(path, format="ascii.csv")
            plot_real_comparison(tmp / "compare_real.png", real_teff, real_mags, sedset.table)
    log.info(
        "wrote %s: %d SEDs x %d bands (%.0f SEDs/s) in %.1f s",
        out,
        config.n_seds,
        len(sedset.passbands.names),
        config.n_seds / max(elapsed, 1e-9),
        time.perf_counter() - start,
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.sed_synth")
