"""Classify a user's photometric catalogue into the SED clusters, with probabilities.

Reads: --catalogue (CSV or FITS; default sed.catalogue.path, else the Green et al. 2021 stars in
../shared/data/stars/green2020), mapped to bands by ``sed.catalogue.bands`` (column and Vega/AB
system per band; missing values: NaN, empty, masked, sentinels); --embedding (the sed-embed
folder: feature spec, autoencoder, reducers, embedding.fits); --clusters (the sed-cluster
folder: clusterers.pkl); --seds (seds.fits of sed-synth: Teff and dust of the synthetic
neighbours). The catalogue goes through the saved feature spec, so it is embedded exactly as
the training set was; bands it lacks are masked.

Writes into --out (built in a temporary folder and renamed when complete):
  classified.fits, classified.csv   one row per object: id, the kept columns, mag_<b> (Vega,
        as used; NaN = missing), n_bands, embedded, the embeddings <emb>_1..d, and per
        clustering <emb>_<method>: _label (-1 noise, -2 not embedded), _prob (HDBSCAN
        approximate_predict strength / GMM predict_proba), _teff (cluster-derived Teff, K:
        10^(membership-weighted mean of the clusters' mean log10 Teff)); per embedding
        teff_knn_<emb> (K, mean log10 Teff of the nearest synthetic SEDs) and p_dust_<emb>
        (their fraction with a dust shell); with sed.catalogue.template_fit.enabled, the
        Bayesian fit against the synthetic SEDs (skysift.sed.template_fit, population prior
        learnt from this catalogue): teff_fit, teff_fit_err (K), av_fit (mag), p_dust_fit,
        chi2_fit, n_bands_fit
  classify.json   column mapping, counts, timings, settings, the fitted population prior
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
from skysift.sed.analysis_config import CatalogueConfig
from skysift.sed.catalogue import CatalogueMags
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift sed-classify``."""
    parser.add_argument(
        "--catalogue", help="CSV/FITS catalogue (default: sed.catalogue.path or green2020)"
    )
    parser.add_argument("--embedding", required=True, help="sed-embed folder")
    parser.add_argument("--clusters", required=True, help="sed-cluster folder")
    parser.add_argument("--seds", required=True, help="seds.fits of sed-synth (kNN labels)")
    parser.add_argument(
        "--settings", help="sed.catalogue settings: inline JSON or a YAML/JSON file"
    )
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (once complete)"
    )


def main(args: argparse.Namespace) -> None:
    """Embed, assign and write the classified catalogue atomically."""
    from sklearn.neighbors import NearestNeighbors

    from skysift.errors import InputFileError
    from skysift.io.catalogue import write_table
    from skysift.sed.catalogue import catalogue_mags, default_catalogue_path, read_catalogue
    from skysift.sed.cluster import derived_teff
    from skysift.sed.embedding import load_embedder
    from skysift.sed.products import read_clusterers, read_embedding, read_seds

    config = load_section(CatalogueConfig, "sed.catalogue", args.settings)
    source = Path(args.catalogue or config.path or default_catalogue_path())
    table = read_catalogue(source, config.format)
    embedder = load_embedder(args.embedding)
    stored = read_clusterers(args.clusters)
    seds = read_seds(args.seds)
    syn_table, syn_emb = read_embedding(args.embedding)
    if not np.array_equal(np.asarray(syn_table["id"]), np.asarray(seds["id"])):
        raise InputFileError(args.seds, f"ids differ from those of {args.embedding}")
    start = time.perf_counter()
    cat = catalogue_mags(table, embedder.spec, config, source)
    embeddings, ok = embedder.embed(cat.mags)
    if not ok.any():
        raise InputFileError(
            source,
            f"no object can be embedded (each needs >= {embedder.spec.min_bands} bands"
            + (
                f" including {embedder.spec.reference_band})"
                if embedder.spec.normalisation == "log_flux"
                else ")"
            ),
        )
    out_table = Table()
    out_table["id"] = cat.ids
    for name in config.keep_columns:
        out_table[name] = table[name]
    for i, band in enumerate(embedder.spec.bands):
        out_table[f"mag_{band}"] = cat.mags[:, i].astype(np.float32)
        out_table[f"mag_{band}"].unit = "mag"
    out_table["n_bands"] = np.isfinite(cat.mags).sum(axis=1).astype(np.int16)
    out_table["embedded"] = ok
    for name, z in embeddings.items():
        for j in range(z.shape[1]):
            out_table[f"{name}_{j + 1}"] = z[:, j]
    for name, clusterer in stored["clusterers"].items():
        if clusterer.embedding not in embeddings:
            continue
        z = embeddings[clusterer.embedding]
        labels, prob = clusterer.assign(z)
        out_table[f"{name}_label"] = labels
        out_table[f"{name}_prob"] = prob.astype(np.float32)
        teff = derived_teff(clusterer.memberships(z), stored["log_teff"][name])
        out_table[f"{name}_teff"] = np.where(ok, teff, np.nan).astype(np.float32)
        out_table[f"{name}_teff"].unit = "K"
    syn_ok = np.asarray(syn_table["embedded"], bool)
    log_teff = np.log10(np.asarray(seds["teff"], np.float64))[syn_ok]
    dusty = np.asarray(seds["has_dust"], bool)[syn_ok]
    for name, z in embeddings.items():
        nn = NearestNeighbors(n_neighbors=min(config.neighbours, int(syn_ok.sum())))
        nn.fit(syn_emb[name][syn_ok])
        teff_knn = np.full(len(table), np.nan, np.float32)
        p_dust = np.full(len(table), np.nan, np.float32)
        idx = nn.kneighbors(z[ok], return_distance=False)
        teff_knn[ok] = 10.0 ** log_teff[idx].mean(axis=1)
        p_dust[ok] = dusty[idx].mean(axis=1)
        out_table[f"teff_knn_{name}"] = teff_knn
        out_table[f"teff_knn_{name}"].unit = "K"
        out_table[f"p_dust_{name}"] = p_dust
    prior_info = None
    if config.template_fit.enabled:
        fit, prior_info = fit_templates(cat, embedder.spec.bands, seds, config, args.seds)
        for key, column, unit in (
            ("teff", "teff_fit", "K"),
            ("teff_err", "teff_fit_err", "K"),
            ("av", "av_fit", "mag"),
            ("p_dust", "p_dust_fit", None),
            ("chi2", "chi2_fit", None),
        ):
            out_table[column] = fit[key].astype(np.float32)
            if unit:
                out_table[column].unit = unit
        out_table["n_bands_fit"] = fit["n_bands"].astype(np.int16)
    out = Path(args.out)
    with atomic_dir(out, overwrite=args.overwrite) as tmp:
        write_table(out_table, tmp / "classified.fits", tmp / "classified.csv")
        info = {
            "catalogue": str(source),
            "n_objects": len(table),
            "n_embedded": int(ok.sum()),
            "mapping": {b: e.model_dump() for b, e in cat.mapping.items()},
            "bands_absent": [b for b in embedder.spec.bands if b not in cat.mapping],
            "seconds": round(time.perf_counter() - start, 2),
            "template_fit": prior_info,
            "settings": config.model_dump(),
        }
        with atomic_path(tmp / "classify.json") as path:
            path.write_text(json.dumps(info, indent=2) + "\n")
    log.info(
        "wrote %s: %d of %d objects of %s classified in %.1f s",
        out,
        int(ok.sum()),
        len(table),
        source,
        time.perf_counter() - start,
    )


def fit_templates(
    cat: CatalogueMags,
    spec_bands: tuple[str, ...],
    seds: Table,
    config: CatalogueConfig,
    seds_path: str,
) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """The template fit of the catalogue's mapped bands (``cat.mags`` columns are in
    ``spec_bands`` order) against the synthetic SEDs' noise-free ``mag_true_<b>``; returns the
    per-star summary and what the prior came to."""
    from skysift.errors import InputFileError
    from skysift.sed.template_fit import (
        TemplateBank,
        band_weights,
        fit_population_prior,
        flat_prior,
        log_likelihoods,
        posterior_summary,
    )

    settings = config.template_fit
    bands = [b for b in cat.mapping if f"mag_true_{b}" in seds.colnames]
    lacking = [b for b in cat.mapping if b not in bands]
    if lacking:
        raise InputFileError(seds_path, f"no noise-free magnitudes mag_true_<b> for {lacking}")
    spec_index = [spec_bands.index(b) for b in bands]
    template_mags = np.stack([np.asarray(seds[f"mag_true_{b}"], np.float64) for b in bands], 1)
    if not np.isfinite(template_mags).all():
        raise InputFileError(
            seds_path,
            f"{int((~np.isfinite(template_mags)).any(axis=1).sum())} SEDs have non-finite "
            f"noise-free magnitudes in {bands}",
        )
    bank = TemplateBank(
        mags=template_mags,
        log_teff=np.log10(np.asarray(seds["teff"], np.float64)),
        av=np.asarray(seds["av"], np.float64),
        has_dust=np.asarray(seds["has_dust"], bool),
    )
    mags = cat.mags[:, spec_index]
    weights = band_weights(
        mags,
        cat.errors[:, spec_index],
        systematic_mag=settings.systematic_mag,
        default_error_mag=settings.default_error_mag,
    )
    start = time.perf_counter()
    like = log_likelihoods(mags, weights, bank, top_k=settings.top_k, min_bands=settings.min_bands)
    if settings.prior == "population":
        prior = fit_population_prior(
            like,
            bank,
            teff_cells=settings.teff_cells,
            av_cells=settings.av_cells,
            iterations=settings.iterations,
        )
    else:
        prior = flat_prior(bank)
    summary = posterior_summary(like, bank, prior)
    info: dict[str, object] = {
        "bands": bands,
        "error_columns": {
            b: cat.error_columns.get(b) or f"none (default {settings.default_error_mag} mag)"
            for b in bands
        },
        "n_templates": int(bank.mags.shape[0]),
        "n_fitted": int(like.fitted.sum()),
        "prior": settings.prior,
        "em_iterations": prior.iterations,
        "em_converged": prior.converged,
        "prior_mean_av_mag": round(prior.mean_av, 4),
        "prior_dust_fraction": round(prior.dust_fraction, 4),
        "seconds": round(time.perf_counter() - start, 2),
    }
    log.info(
        "template fit: %d of %d objects against %d synthetic SEDs (%s prior) in %.1f s",
        like.fitted.sum(),
        len(mags),
        bank.mags.shape[0],
        settings.prior,
        time.perf_counter() - start,
    )
    return summary, info


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.sed_classify")
