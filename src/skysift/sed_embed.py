"""Embed synthetic SEDs: a masked autoencoder (PyTorch) beside PCA and UMAP baselines.

Reads: --seds (seds.fits of sed-synth) and the bands.json beside it (or --bands); the
``sed.embed`` settings (--settings: inline JSON, or a YAML/JSON file holding the whole project
config, the ``sed`` section or just ``embed``).

Writes into --out (built in a temporary folder and renamed when complete):
  feature_spec.json   bands (wavelength order), AB-Vega offsets, normalisation (log_flux:
                      -0.4 (m_b - m_ref); colours: adjacent Vega colours), centre and scale per
                      feature: how any later catalogue is turned into features
  autoencoder.pt      weights, with the feature spec and settings (embedding "ae")
  reducers.pkl        the fitted PCA and UMAP (pickled; load only your own files)
  embedding.fits      id, embedded (False: too few bands / no reference band), and per
                      embedding <name>_1..<name>_d (NaN where not embedded)
  train_log.csv, loss_curve.png   masked reconstruction loss per epoch, train and held out
  embed.json          counts, timings, seed, settings

The same settings and --seed give the same embeddings (CPU, deterministic).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from astropy.table import Table

from skysift.io.atomic import atomic_dir, atomic_path
from skysift.sed.analysis_config import EmbedConfig
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift sed-embed``."""
    parser.add_argument("--seds", required=True, help="seds.fits written by sed-synth")
    parser.add_argument("--bands", help="bands.json (default: beside --seds)")
    parser.add_argument(
        "--settings", help="sed.embed settings: inline JSON or a YAML/JSON file (default: demo)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (once complete)"
    )


def main(args: argparse.Namespace) -> None:
    """Fit the embeddings and write them with the feature spec, atomically."""
    from skysift.io.catalogue import write_table
    from skysift.sed.cluster_plots import plot_loss_curve
    from skysift.sed.embedding import fit_embedder
    from skysift.sed.features import make_spec, read_bands_json, table_mags
    from skysift.sed.products import read_seds

    config = load_section(EmbedConfig, "sed.embed", args.settings)
    seds_path = Path(args.seds)
    table = read_seds(seds_path)
    bands = read_bands_json(args.bands or seds_path.with_name("bands.json"))
    spec = make_spec(bands, config)
    mags = table_mags(table, spec.bands)
    out = Path(args.out)
    start = time.perf_counter()
    with atomic_dir(out, overwrite=args.overwrite) as tmp:
        embedder, result, _ = fit_embedder(spec, mags, config=config, seed=args.seed)
        fit_seconds = time.perf_counter() - start
        embeddings, ok = embedder.embed(mags)
        embedder.save(tmp, config, seed=args.seed)
        emb_table = Table()
        emb_table["id"] = np.asarray(table["id"])
        emb_table["embedded"] = ok
        for name, z in embeddings.items():
            for j in range(z.shape[1]):
                emb_table[f"{name}_{j + 1}"] = z[:, j]
        write_table(emb_table, tmp / "embedding.fits")
        if result is not None:
            log_table = Table(
                rows=[list(h.values()) for h in result.history], names=list(result.history[0])
            )
            with atomic_path(tmp / "train_log.csv") as path:
                log_table.write(path, format="ascii.csv")
        plot_loss_curve(
            tmp / "loss_curve.png",
            result.history if result else [],
            result.best_epoch if result else 0,
        )
        summary = {
            "seed": args.seed,
            "seds": str(seds_path),
            "n_objects": len(table),
            "n_embedded": int(ok.sum()),
            "embeddings": embedder.names,
            "features": list(embedder.spec.names),
            "fit_seconds": round(fit_seconds, 2),
            "ae_best_epoch": result.best_epoch if result else None,
            "ae_best_val_loss": min(h["val_loss"] for h in result.history) if result else None,
            "settings": config.model_dump(),
        }
        with atomic_path(tmp / "embed.json") as path:
            path.write_text(json.dumps(summary, indent=2) + "\n")
    log.info(
        "wrote %s: %s embeddings of %d of %d SEDs in %.1f s",
        out,
        "/".join(embedder.names),
        int(ok.sum()),
        len(table),
        time.perf_counter() - start,
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.sed_embed")
