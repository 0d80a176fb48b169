"""Benchmark of the SED analysis at scale: autoencoder training and HDBSCAN (and GMM) time.

Run: ``python benchmarks/bench_sed_cluster.py [--sizes 100000 1000000] [--epochs 3]``. For each
size it synthesises that many SEDs (sed defaults), builds the features, trains the masked
autoencoder for ``--epochs`` epochs with the paper settings (hidden 128-128, batch 1024, 4-D
latent; seconds per epoch reported), embeds every object, and fits HDBSCAN
(``approx_min_span_tree=False``, ``prediction_data=True``) and a 10-component Gaussian mixture on
the embedding. One thread throughout (torch, BLAS). Writes ``benchmarks/results/sed_cluster.md``.
Needs the ck04 grid. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch
from bench_sed import _cpu_model, _git_revision, one_thread

from skysift.sed.analysis_config import ClusterConfig, EmbedConfig
from skysift.sed.autoencoder import encode, train_autoencoder
from skysift.sed.cluster import fit_hdbscan
from skysift.sed.config import SedConfig
from skysift.sed.features import feature_matrix, fit_scaling, make_spec, raw_features, table_mags
from skysift.sed.grid import ModelGrid, load_grid
from skysift.sed.synth import synthesize

RESULTS = Path(__file__).resolve().parent / "results"

log = logging.getLogger("bench_sed_cluster")


def bench_one(n: int, *, epochs: int, min_cluster_size: int, seed: int, grid: ModelGrid) -> dict:
    """Time synthesis, AE training, embedding, HDBSCAN and GMM for ``n`` objects."""
    from sklearn.mixture import GaussianMixture

    start = time.perf_counter()
    sedset = synthesize(grid, SedConfig(n_seds=n, chunk_size=5000), seed=seed)
    t_synth = time.perf_counter() - start
    log.info("%d objects: synthesis %.1f s", n, t_synth)
    bands = {
        e["name"]: {"pivot_wavelength_um": e["pivot_wavelength_um"], "ab_minus_vega_mag": 0.0}
        for e in sedset.passbands.as_json()
    }
    config = EmbedConfig(epochs=epochs, batch_size=1024, hidden=[128, 128], log_every=1)
    spec = make_spec(bands, config)
    mags = table_mags(sedset.table, spec.bands)
    values, observed = raw_features(spec, mags)
    _, _, ok = feature_matrix(spec, mags)
    spec = fit_scaling(spec, values[ok], observed[ok])
    x, mask, _ = feature_matrix(spec, mags[ok])
    del sedset, values, observed, mags
    start = time.perf_counter()
    result = train_autoencoder(x, mask, config=config, seed=seed)
    t_train = time.perf_counter() - start
    log.info("%d objects: AE %.1f s for %d epochs", n, t_train, epochs)
    start = time.perf_counter()
    z = encode(result.model, x, mask)
    t_encode = time.perf_counter() - start
    start = time.perf_counter()
    hdb = fit_hdbscan(z, ClusterConfig(min_cluster_size=min_cluster_size), "ae_hdbscan")
    t_hdb = time.perf_counter() - start
    log.info("%d objects: HDBSCAN %.1f s", n, t_hdb)
    start = time.perf_counter()
    GaussianMixture(10, random_state=seed).fit(z.astype(np.float64))
    t_gmm = time.perf_counter() - start
    return {
        "n": n,
        "n_embedded": int(ok.sum()),
        "synth_s": t_synth,
        "train_s": t_train,
        "epoch_s": t_train / epochs,
        "encode_s": t_encode,
        "hdbscan_s": t_hdb,
        "hdbscan_clusters": hdb.n_clusters,
        "hdbscan_noise": float(np.mean(hdb.model.labels_ == -1)),
        "gmm10_s": t_gmm,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def main() -> None:
    """Run the sizes and write the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--epochs", type=int, default=3, help="AE epochs timed per size")
    parser.add_argument("--min-cluster-size", type=int, default=500, help="HDBSCAN (paper: 500)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--grid", help="ck04_subset.npz or folder (default search)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    rows = []
    with one_thread() as threads:
        grid = load_grid(args.grid)
        for n in args.sizes:
            rows.append(
                bench_one(
                    n,
                    epochs=args.epochs,
                    min_cluster_size=args.min_cluster_size,
                    seed=args.seed,
                    grid=grid,
                )
            )
            print(rows[-1], flush=True)
    lines = [
        "# SED analysis benchmark: autoencoder and clustering at scale",
        "",
        "| objects | embedded | synthesis (s) | AE s/epoch | AE total (s) | encode (s) | "
        "HDBSCAN (s) | HDBSCAN clusters / noise | GMM 10 comp. (s) | peak RSS (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['n_embedded']} | {r['synth_s']:.1f} | {r['epoch_s']:.1f} | "
            f"{r['train_s']:.1f} ({args.epochs} epochs) | {r['encode_s']:.1f} | "
            f"{r['hdbscan_s']:.1f} | {r['hdbscan_clusters']} / {100 * r['hdbscan_noise']:.0f}% | "
            f"{r['gmm10_s']:.1f} | {r['rss_mib']:.0f} |"
        )
    lines += [
        "",
        f"- AE: masked autoencoder, hidden 128-128, latent 4, batch 1024, band dropout 0.2, "
        f"{args.epochs} epochs timed (the paper config trains 100: multiply s/epoch)",
        f"- HDBSCAN: min_cluster_size {args.min_cluster_size} (min_samples the same), exact "
        "minimum spanning tree, prediction data, on the 4-D AE embedding; GMM: full covariance, "
        "10 components, one init (the BIC scan fits 1..N of these on at most gmm_fit_max objects)",
        f"- machine: {_cpu_model()}, {os.cpu_count()} logical CPUs, {platform.platform()}; "
        f"{threads}; torch {torch.__version__} on 1 CPU thread",
        f"- skysift revision: {_git_revision()}",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sed_cluster.md").write_text(text)


if __name__ == "__main__":
    main()
