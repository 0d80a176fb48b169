"""Cluster the SED embeddings (HDBSCAN and a BIC-chosen Gaussian mixture) and score what the
clusters mean against the known synthetic parameters.

Reads: --seds (seds.fits of sed-synth: teff, logg, av, has_dust, dust_tau, dust_temp); --embedding
(the sed-embed folder or its embedding.fits); the ``sed.cluster`` settings (--settings: inline
JSON or a YAML/JSON project config).

Writes into --out (built in a temporary folder and renamed when complete):
  clusters.fits, clusters.csv   id and, per clustering <emb>_<hdbscan|gmm>, _label (-1 HDBSCAN
                                noise, -2 not embedded) and _prob (membership probability)
  clusterers.pkl                the fitted clusterings (hdbscan with prediction data, GMMs) and
                                the membership-weighted mean log10 Teff of every cluster
  metrics.csv, metrics.md       per clustering: clusters, noise, AMI and purity against binned
                                Teff, dust presence, binned A_V and the pattern of missing bands
                                (a check that clusters do not just follow the masks)
  summary.csv                   per clustering and cluster: size, Teff percentiles, median log g
                                and A_V, dust fraction, dust tau and temperature
  embeddings.png                every embedding coloured by Teff, dust, HDBSCAN and GMM labels
  cluster_params.png            parameter distributions per cluster of the primary clustering
  cluster.json                  primary clustering, timings, seed, settings
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import time
from pathlib import Path

import numpy as np
from astropy.table import Table

from skysift.io.atomic import atomic_dir, atomic_path
from skysift.sed.analysis_config import ClusterConfig
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift sed-cluster``."""
    parser.add_argument("--seds", required=True, help="seds.fits written by sed-synth")
    parser.add_argument("--embedding", required=True, help="sed-embed folder or embedding.fits")
    parser.add_argument("--settings", help="sed.cluster settings: inline JSON or a YAML/JSON file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the GMM fits (default 0)")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (once complete)"
    )


def main(args: argparse.Namespace) -> None:
    """Fit, label, score and draw every clustering; write all atomically."""
    from skysift.errors import InputFileError
    from skysift.evaluate.report import write_csv
    from skysift.io.catalogue import write_table
    from skysift.sed.cluster import cluster_log_teff, fit_all, training_labels
    from skysift.sed.cluster_plots import plot_cluster_parameters, plot_embeddings
    from skysift.sed.meaning import bin_labels, cluster_summary, clustering_scores, rows_markdown
    from skysift.sed.products import (
        CLUSTERERS_FILE,
        missing_pattern,
        read_embedding,
        read_seds,
        seds_params,
    )

    config = load_section(ClusterConfig, "sed.cluster", args.settings)
    seds = read_seds(args.seds)
    emb_table, embeddings = read_embedding(args.embedding)
    if not np.array_equal(np.asarray(emb_table["id"]), np.asarray(seds["id"])):
        raise InputFileError(args.embedding, f"ids differ from those of {args.seds}")
    if config.primary.split("_")[0] not in embeddings:
        raise InputFileError(
            args.embedding,
            f"has no '{config.primary.split('_')[0]}' embedding for "
            f"sed.cluster.primary={config.primary}",
        )
    params = seds_params(seds)
    truths = {
        "teff": bin_labels(params["teff"], config.teff_bins),
        "dust": params["has_dust"].astype(np.int64),
        "av": bin_labels(params["av"], config.av_bins),
        # which bands are missing: a clustering that follows this follows the masks, not physics
        "missing": missing_pattern(seds),
    }
    out = Path(args.out)
    start = time.perf_counter()
    with atomic_dir(out, overwrite=args.overwrite) as tmp:
        clusterers = fit_all(embeddings, config, args.seed)
        labels_table = Table()
        labels_table["id"] = np.asarray(seds["id"])
        metrics, summary, labels, log_teff = [], [], {}, {}
        for name, clusterer in clusterers.items():
            z = embeddings[clusterer.embedding]
            lab, prob = training_labels(clusterer, z)
            labels[name] = lab
            labels_table[f"{name}_label"] = lab
            labels_table[f"{name}_prob"] = prob.astype(np.float32)
            used = lab != -2
            log_teff[name] = cluster_log_teff(clusterer.memberships(z[used]), params["teff"][used])
            scores = clustering_scores(lab, truths)
            metrics.append(
                {
                    "embedding": clusterer.embedding,
                    "method": clusterer.method,
                    **scores,
                    "fit_seconds": round(clusterer.fit_seconds, 2),
                }
            )
            summary += [{"clustering": name, **row} for row in cluster_summary(lab, params)]
        write_table(labels_table, tmp / "clusters.fits", tmp / "clusters.csv")
        with atomic_path(tmp / CLUSTERERS_FILE) as path:
            path.write_bytes(
                pickle.dumps(
                    {
                        "clusterers": clusterers,
                        "log_teff": log_teff,
                        "primary": config.primary,
                        "seed": args.seed,
                    }
                )
            )
        for fname, rows in (("metrics.csv", metrics), ("summary.csv", summary)):
            with atomic_path(tmp / fname) as path:
                write_csv(path, rows)
        with atomic_path(tmp / "metrics.md") as path:
            path.write_text(
                "# SED clusters against the known parameters\n\n"
                f"{int(np.sum(emb_table['embedded']))} embedded synthetic SEDs. AMI / purity "
                "against binned Teff (edges "
                f"{', '.join(f'{e:g}' for e in config.teff_bins)} K), dust shell yes/no, binned "
                f"A_V (edges {', '.join(f'{e:g}' for e in config.av_bins)} mag) and the "
                "pattern of missing bands (high: the clusters follow the masks); HDBSCAN noise "
                "counts as one cluster, `ami_teff_clustered` leaves it out.\n\n"
                + rows_markdown(metrics)
            )
        plot_embeddings(
            tmp / "embeddings.png", embeddings, params["teff"], params["has_dust"], labels
        )
        plot_cluster_parameters(
            tmp / "cluster_params.png", labels[config.primary], params, config.primary
        )
        info = {
            "seed": args.seed,
            "primary": config.primary,
            "n_clusters": {name: c.n_clusters for name, c in clusterers.items()},
            "gmm_bic": {n: c.info["bic"] for n, c in clusterers.items() if c.method == "gmm"},
            "seconds": round(time.perf_counter() - start, 2),
            "settings": config.model_dump(),
        }
        with atomic_path(tmp / "cluster.json") as path:
            path.write_text(json.dumps(info, indent=2) + "\n")
    log.info(
        "wrote %s: %d clusterings in %.1f s", out, len(clusterers), time.perf_counter() - start
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.sed_cluster")
