"""Explain SED cluster membership with Integrated Gradients (captum), per cluster and band.

Reads: --seds (seds.fits of sed-synth), --embedding (the sed-embed folder: feature_spec.json),
--clusters (the sed-cluster folder: clusters.fits, cluster.json); the ``sed.explain`` settings
(--settings: inline JSON or a YAML/JSON project config).

A small MLP learns the labels of one clustering (sed.explain.clustering, default the
primary one; noise left out) from the masked features; Integrated Gradients attributes each
member's probability of its own cluster to the features, from the mean star (all features 0,
same mask).

Writes into --out (built in a temporary folder and renamed when complete):
  classifier.pt             classifier weights with the feature spec and the clustering name
  attributions.csv          per cluster and feature: mean signed and mean absolute attribution
  explain.csv               per cluster: members, median Teff, dust fraction, dusty (yes/no),
                            mid-IR share of the absolute attribution, completeness residuals
  attribution_heatmap.png   clusters x features heatmap of the mean attribution
  explain.json              classifier accuracy, mid-IR share of dusty vs other clusters,
                            largest completeness residual, seed, settings
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from skysift.io.atomic import atomic_dir, atomic_path
from skysift.sed.analysis_config import ExplainConfig
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift sed-explain``."""
    parser.add_argument("--seds", required=True, help="seds.fits written by sed-synth")
    parser.add_argument("--embedding", required=True, help="sed-embed folder")
    parser.add_argument("--clusters", required=True, help="sed-cluster folder")
    parser.add_argument("--settings", help="sed.explain settings: inline JSON or a YAML/JSON file")
    parser.add_argument("--seed", type=int, default=0, help="seed of training and sampling")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (once complete)"
    )


def main(args: argparse.Namespace) -> None:
    """Train the classifier, attribute, summarise per cluster; write all atomically."""
    import torch

    from skysift.errors import InputFileError
    from skysift.evaluate.report import write_csv
    from skysift.sed.cluster_plots import plot_attribution_heatmap
    from skysift.sed.explain import explain_clusters, train_classifier
    from skysift.sed.features import FeatureSpec, feature_matrix, table_mags
    from skysift.sed.products import read_seds, read_table, seds_params

    config = load_section(ExplainConfig, "sed.explain", args.settings)
    seds = read_seds(args.seds)
    spec = FeatureSpec.load(Path(args.embedding) / "feature_spec.json")
    clusters_dir = Path(args.clusters)
    info_path = clusters_dir / "cluster.json"
    if not info_path.is_file():
        raise InputFileError(info_path, "not found (written by skysift sed-cluster)")
    name = config.clustering or json.loads(info_path.read_text())["primary"]
    labels_table = read_table(
        clusters_dir / "clusters.fits", "sed-cluster label table", ("id", f"{name}_label")
    )
    labels = np.asarray(labels_table[f"{name}_label"], np.int64)
    x, mask, _ = feature_matrix(spec, table_mags(seds, spec.bands))
    members = labels >= 0
    if len(np.unique(labels[members])) < 2:
        raise InputFileError(
            clusters_dir / "clusters.fits",
            f"clustering {name} has fewer than 2 clusters to explain",
        )
    # Classes 0..K-1 in the order of the cluster ids.
    ids = np.unique(labels[members])
    classes = np.searchsorted(ids, labels[members])
    params = seds_params(seds)
    out = Path(args.out)
    start = time.perf_counter()
    with atomic_dir(out, overwrite=args.overwrite) as tmp:
        result = train_classifier(x[members], mask[members], classes, config=config, seed=args.seed)
        rows, mean_attr, mean_abs = explain_clusters(
            result.model,
            x[members],
            mask[members],
            classes,
            feature_bands=spec.feature_bands(),
            config=config,
            seed=args.seed,
        )
        teff = params["teff"][members]
        dust = params["has_dust"][members].astype(bool)
        for row in rows:
            sel = classes == row["cluster"]
            row["cluster"] = int(ids[row["cluster"]])
            row["n_members"] = int(sel.sum())
            row["teff_median"] = float(np.median(teff[sel]))
            row["dust_fraction"] = float(dust[sel].mean())
            row["dusty"] = bool(row["dust_fraction"] >= config.dusty_fraction)
        attr_rows = [
            {
                "cluster": row["cluster"],
                "feature": feat,
                "mean_attribution": float(mean_attr[i, j]),
                "mean_abs_attribution": float(mean_abs[i, j]),
            }
            for i, row in enumerate(rows)
            for j, feat in enumerate(spec.names)
        ]
        with atomic_path(tmp / "attributions.csv") as path:
            write_csv(path, attr_rows)
        with atomic_path(tmp / "explain.csv") as path:
            write_csv(path, rows)
        order = np.argsort([r["teff_median"] for r in rows])
        plot_attribution_heatmap(
            tmp / "attribution_heatmap.png",
            mean_attr[order],
            [
                f"{rows[i]['cluster']}: {rows[i]['teff_median']:.0f} K, "
                f"dust {100 * rows[i]['dust_fraction']:.0f}%"
                for i in order
            ],
            list(spec.names),
            f"{name}: Integrated Gradients of membership (per cluster, scaled)",
        )
        dusty = [r["mid_ir_share"] for r in rows if r["dusty"]]
        other = [r["mid_ir_share"] for r in rows if not r["dusty"]]
        summary = {
            "clustering": name,
            "seed": args.seed,
            "n_clusters": len(rows),
            "train_accuracy": result.train_accuracy,
            "val_accuracy": result.val_accuracy,
            "mid_ir_bands": config.mid_ir_bands,
            "mid_ir_share_dusty_mean": float(np.mean(dusty)) if dusty else None,
            "mid_ir_share_other_mean": float(np.mean(other)) if other else None,
            "n_dusty_clusters": len(dusty),
            "max_abs_completeness_delta": max(r["max_abs_delta"] for r in rows),
            "seconds": round(time.perf_counter() - start, 2),
            "settings": config.model_dump(),
        }
        with atomic_path(tmp / "explain.json") as path:
            path.write_text(json.dumps(summary, indent=2) + "\n")
        with atomic_path(tmp / "classifier.pt") as path:
            torch.save(
                {
                    "model": result.model.state_dict(),
                    "skysift": {
                        "clustering": name,
                        "cluster_ids": ids.tolist(),
                        "hidden": result.model.hidden,
                        "feature_spec": spec.to_dict(),
                    },
                },
                path,
            )
    log.info(
        "wrote %s: %s, mid-IR share %.2f (dusty clusters) vs %.2f (others)",
        out,
        name,
        summary["mid_ir_share_dusty_mean"] or float("nan"),
        summary["mid_ir_share_other_mean"] or float("nan"),
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.sed_explain")
