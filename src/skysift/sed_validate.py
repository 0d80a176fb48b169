"""Validate a classified real catalogue against its spectroscopic labels, beside user baselines.

Reads: --classified (the sed-classify folder or its classified.fits, which must carry the
label columns sed.validation.teff_column and ebv_column among its kept columns); --seds (seds.fits
of sed-synth: the colour-colour diagrams and the label-free colour-Teff baseline); the
``sed.validation`` settings (--settings).

Scores (all on the same stars): per skysift clustering, AMI of the cluster labels against binned
spectroscopic Teff and binned E(B-V), and the Spearman correlation, mean absolute error and
median offset of the cluster-derived Teff; the same temperature scores for the embedding-kNN
Teff and for the template fit (teff_fit, with the rank correlation of av_fit and E(B-V)) when
the catalogue has it; and the user baselines: a polynomial colour-Teff relation fitted to the
stars' own Teff (in-sample) or to the synthetic SEDs (label-free), and HDBSCAN straight on the
real adjacent colours.

Writes into --out (built in a temporary folder and renamed when complete):
  validation.csv, validation.md   the table (one row per method)
  validation.json                 the same with the settings
  teff_real.png                   estimated vs spectroscopic Teff
  compare_real.png                G-Ks vs Ks-W2 of the real and the synthetic stars side by side
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from skysift.io.atomic import atomic_dir, atomic_path
from skysift.sed.analysis_config import ValidateConfig
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift sed-validate``."""
    parser.add_argument("--classified", required=True, help="sed-classify folder or its FITS")
    parser.add_argument("--seds", required=True, help="seds.fits of sed-synth (figures)")
    parser.add_argument(
        "--settings", help="sed.validation settings: inline JSON or a YAML/JSON file"
    )
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (once complete)"
    )


def main(args: argparse.Namespace) -> None:
    """Score, tabulate and draw; write all atomically."""
    from skysift.errors import ConfigError
    from skysift.evaluate.report import write_csv
    from skysift.sed.cluster_plots import plot_real_temperatures
    from skysift.sed.meaning import bin_labels, rows_markdown
    from skysift.sed.plots import plot_real_comparison
    from skysift.sed.products import float_column, read_seds, read_table
    from skysift.sed.validate import (
        COLUMNS,
        colour_label,
        polynomial_teff,
        raw_colour_clusters,
        validation_rows,
    )

    config = load_section(ValidateConfig, "sed.validation", args.settings)
    path = Path(args.classified)
    if path.is_dir():
        path = path / "classified.fits"
    table = read_table(
        path, "sed-classify catalogue", ("id", "embedded", config.teff_column, config.ebv_column)
    )
    seds = read_seds(args.seds)
    start = time.perf_counter()

    def mag(band: str, key: str) -> np.ndarray:
        if f"mag_{band}" not in table.colnames:
            raise ConfigError(key, f"band {band} has no mag_{band} column in {path}")
        return float_column(table, f"mag_{band}")

    teff = float_column(table, config.teff_column)
    ebv = float_column(table, config.ebv_column)
    teff_bins = bin_labels(teff, config.teff_bins)
    ebv_bins = bin_labels(ebv, config.ebv_bins)
    blue, red = config.baseline_colour
    colour = mag(blue, "sed.validation.baseline_colour") - mag(
        red, "sed.validation.baseline_colour"
    )
    baseline = polynomial_teff(colour, teff, colour, config.baseline_degree)
    if f"mag_{blue}" not in seds.colnames or f"mag_{red}" not in seds.colnames:
        raise ConfigError("sed.validation.baseline_colour", f"{blue}/{red} not in {args.seds}")
    syn_colour = float_column(seds, f"mag_{blue}") - float_column(seds, f"mag_{red}")
    syn_baseline = polynomial_teff(
        syn_colour, float_column(seds, "teff"), colour, config.baseline_degree, log_teff=True
    )
    raw_mags = np.stack(
        [mag(b, "sed.validation.raw_colour_bands") for b in config.raw_colour_bands], 1
    )
    raw_labels = raw_colour_clusters(raw_mags, min_cluster_size=config.raw_min_cluster_size)
    names = sorted(c[: -len("_label")] for c in table.colnames if c.endswith("_label"))
    clusterings = {
        n: (np.asarray(table[f"{n}_label"]), float_column(table, f"{n}_teff")) for n in names
    }
    knn = {
        c[len("teff_knn_") :]: float_column(table, c)
        for c in table.colnames
        if c.startswith("teff_knn_")
    }
    fitted = (
        {
            "template fit Teff (population prior from the catalogue's photometry)": (
                float_column(table, "teff_fit"),
                float_column(table, "av_fit"),
            )
        }
        if "teff_fit" in table.colnames and "av_fit" in table.colnames
        else {}
    )
    rows = validation_rows(
        teff=teff,
        teff_bins=teff_bins,
        ebv_bins=ebv_bins,
        baselines={
            f"user: degree-{config.baseline_degree} {blue}-{red} fit to the stars' Teff": baseline,
            f"user: degree-{config.baseline_degree} {blue}-{red} fit to the synthetic SEDs": (
                syn_baseline
            ),
        },
        raw_labels=raw_labels,
        raw_name=f"user: HDBSCAN on raw colours ({colour_label(config.raw_colour_bands)})",
        clusterings=clusterings,
        knn_teff=knn,
        fitted=fitted,
        ebv=ebv,
        teff_edges=config.teff_bins,
    )
    out = Path(args.out)
    with atomic_dir(out, overwrite=args.overwrite) as tmp:
        with atomic_path(tmp / "validation.csv") as p:
            write_csv(p, rows)
        with atomic_path(tmp / "validation.md") as p:
            p.write_text(
                f"# Real stars: {path}\n\n{len(table)} stars; Teff bins "
                f"{', '.join(f'{e:g}' for e in config.teff_bins)} K, E(B-V) bins "
                f"{', '.join(f'{e:g}' for e in config.ebv_bins)} mag. AMI: noise counts as "
                "one cluster (`ami_teff_clustered`: without it). The first colour-Teff baseline is "
                "fitted to the same stars' spectroscopic Teff (in-sample), the second to the "
                "synthetic SEDs; skysift never sees "
                "real labels.\n\n" + rows_markdown(rows, COLUMNS)
            )
        with atomic_path(tmp / "validation.json") as p:
            clean = [
                {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                for r in rows
            ]
            p.write_text(
                json.dumps({"rows": clean, "settings": config.model_dump()}, indent=2) + "\n"
            )
        relation = f"degree-{config.baseline_degree} {blue}-{red}"
        plot_real_temperatures(
            tmp / "teff_real.png",
            teff,
            {
                f"user: {relation} fit to these stars": baseline,
                f"user: {relation} fit to the synthetic SEDs": syn_baseline,
                **{f"skysift: {k} kNN Teff": v for k, v in knn.items()},
                **{f"skysift: {k.split(' (')[0]}": v[0] for k, v in fitted.items()},
                **{
                    f"skysift: {n} cluster Teff": clusterings[n][1]
                    for n in names
                    if n.endswith("gmm")
                },
            },
        )
        real_mags = {b: mag(b, "sed.validation") for b in ("G", "Ks", "W2")}
        plot_real_comparison(tmp / "compare_real.png", teff, real_mags, seds)
    log.info("wrote %s: %d methods scored in %.1f s", out, len(rows), time.perf_counter() - start)


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.sed_validate")
