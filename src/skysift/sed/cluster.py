"""Clusters in an embedding: HDBSCAN (density) and a Gaussian mixture with BIC-chosen size.

HDBSCAN (the ``hdbscan`` package) runs with ``approx_min_span_tree=False`` (exact minimum
spanning tree: the same labels on every run) and ``prediction_data=True``, so new objects are
assigned with ``hdbscan.approximate_predict`` and get soft memberships from
``hdbscan.membership_vector``; label -1 is noise. HDBSCAN finds density gaps; it does not cut a
continuum such as Teff into pieces. The Gaussian mixture (scikit-learn) tries 1 to
``gmm_max_components`` components and keeps the lowest BIC; it partitions every object.

Embeddings are clustered as they are (no rescaling of their axes). Objects that were not
embedded carry label -2.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skysift.sed.analysis_config import ClusterConfig
from skysift.sed.products import NOISE, NOT_EMBEDDED

log = logging.getLogger(__name__)

METHODS = ("hdbscan", "gmm")


@dataclass
class Clusterer:
    """A fitted clustering of one embedding.

    Attributes
    ----------
    name
        ``<embedding>_<method>``, e.g. ``ae_gmm``.
    embedding, method
        Its parts.
    model
        The fitted ``hdbscan.HDBSCAN`` or ``sklearn.mixture.GaussianMixture``.
    n_clusters
        Number of clusters (noise not counted).
    fit_seconds
        Wall time of the fit.
    info
        Method details (GMM: BIC per component count).
    """

    name: str
    embedding: str
    method: str
    model: Any
    n_clusters: int
    fit_seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    def assign(self, z: NDArray[np.floating]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Labels and membership probability of new points ``z`` (n, d); NaN rows get -2, 0."""
        z = np.asarray(z, np.float64)
        ok = np.isfinite(z).all(axis=1)
        labels = np.full(z.shape[0], NOT_EMBEDDED, np.int64)
        prob = np.zeros(z.shape[0])
        if ok.any():
            if self.method == "hdbscan":
                labels[ok], prob[ok] = self._hdbscan_predict(z[ok])
            else:
                p = self.model.predict_proba(z[ok])
                labels[ok] = p.argmax(axis=1)
                prob[ok] = p.max(axis=1)
        return labels, prob

    def _hdbscan_predict(self, z: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        import hdbscan

        if self.n_clusters == 0:
            return np.full(z.shape[0], NOISE), np.zeros(z.shape[0])
        labels, strengths = hdbscan.approximate_predict(self.model, z)
        return np.asarray(labels, np.int64), np.asarray(strengths, np.float64)

    def memberships(self, z: NDArray[np.floating]) -> NDArray[np.float64]:
        """Soft memberships (n, n_clusters), rows summing to 1 (0 for NaN rows).

        GMM: ``predict_proba``; HDBSCAN: ``membership_vector`` (noise points included).
        """
        z = np.asarray(z, np.float64)
        ok = np.isfinite(z).all(axis=1)
        out = np.zeros((z.shape[0], self.n_clusters))
        if not ok.any() or self.n_clusters == 0:
            return out
        if self.method == "gmm":
            out[ok] = self.model.predict_proba(z[ok])
        else:
            import hdbscan

            m = np.asarray(hdbscan.membership_vector(self.model, z[ok]), np.float64)
            out[ok] = m.reshape(-1, self.n_clusters)
        total = out.sum(axis=1, keepdims=True)
        return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def fit_hdbscan(z: NDArray[np.floating], config: ClusterConfig, name: str) -> Clusterer:
    """HDBSCAN with an exact minimum spanning tree and prediction data (deterministic)."""
    import hdbscan

    start = time.perf_counter()
    model = hdbscan.HDBSCAN(
        min_cluster_size=config.min_cluster_size,
        min_samples=config.min_samples,
        cluster_selection_method=config.selection,
        approx_min_span_tree=False,
        prediction_data=True,
        core_dist_n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model.fit(np.asarray(z, np.float64))
    n = int(model.labels_.max()) + 1
    seconds = time.perf_counter() - start
    noise = float(np.mean(model.labels_ == NOISE))
    log.info("%s: %d clusters, noise %.1f%% (%.1f s)", name, n, 100 * noise, seconds)
    return Clusterer(name, name.split("_")[0], "hdbscan", model, n, seconds)


def fit_gmm(z: NDArray[np.floating], config: ClusterConfig, name: str, seed: int) -> Clusterer:
    """Gaussian mixtures of 1..``gmm_max_components`` components; the lowest BIC wins.

    Fitted on at most ``gmm_fit_max`` objects (a seeded random subset).
    """
    from sklearn.mixture import GaussianMixture

    start = time.perf_counter()
    z = np.asarray(z, np.float64)
    rows = np.random.default_rng(seed).permutation(z.shape[0])[: config.gmm_fit_max]
    sample = z[np.sort(rows)]
    bic: dict[int, float] = {}
    best: Any = None
    for k in range(1, min(config.gmm_max_components, sample.shape[0]) + 1):
        gmm = GaussianMixture(
            n_components=k,
            covariance_type=config.gmm_covariance,
            n_init=config.gmm_n_init,
            random_state=seed,
            reg_covar=1e-5,
        ).fit(sample)
        bic[k] = float(gmm.bic(sample))
        if best is None or bic[k] < bic[best.n_components]:
            best = gmm
    seconds = time.perf_counter() - start
    log.info("%s: BIC picks %d components (%.1f s)", name, best.n_components, seconds)
    return Clusterer(
        name, name.split("_")[0], "gmm", best, int(best.n_components), seconds, {"bic": bic}
    )


def fit_all(
    embeddings: dict[str, NDArray[np.float32]], config: ClusterConfig, seed: int
) -> dict[str, Clusterer]:
    """HDBSCAN and GMM on every embedding (rows with NaN left out), by clustering name."""
    out: dict[str, Clusterer] = {}
    for emb, z in embeddings.items():
        ok = np.isfinite(z).all(axis=1)
        out[f"{emb}_hdbscan"] = fit_hdbscan(z[ok], config, f"{emb}_hdbscan")
        out[f"{emb}_gmm"] = fit_gmm(z[ok], config, f"{emb}_gmm", seed)
    return out


def training_labels(
    clusterer: Clusterer, z: NDArray[np.floating]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Labels and probabilities of the objects a clusterer was fitted on (NaN rows: -2, 0).

    HDBSCAN: its own ``labels_`` / ``probabilities_``; GMM: :meth:`Clusterer.assign`.
    """
    if clusterer.method == "gmm":
        return clusterer.assign(z)
    ok = np.isfinite(np.asarray(z)).all(axis=1)
    labels = np.full(ok.size, NOT_EMBEDDED, np.int64)
    prob = np.zeros(ok.size)
    labels[ok] = clusterer.model.labels_
    prob[ok] = clusterer.model.probabilities_
    return labels, prob


def cluster_log_teff(
    memberships: NDArray[np.float64], teff: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Membership-weighted mean log10 Teff (K) of each cluster's training objects, (K,)."""
    w = np.asarray(memberships)
    logt = np.log10(np.asarray(teff, np.float64))
    total = w.sum(axis=0)
    return np.asarray(
        np.divide(w.T @ logt, total, out=np.full(w.shape[1], np.nan), where=total > 0)
    )


def derived_teff(
    memberships: NDArray[np.float64], log_teff_k: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Cluster-derived Teff (K) of objects: ``10 ** sum_k p_k log10 T_k``; NaN with no
    membership."""
    w = np.asarray(memberships)
    good = np.isfinite(log_teff_k)
    w = w[:, good]
    total = w.sum(axis=1)
    mean = np.divide(w @ log_teff_k[good], total, out=np.full(w.shape[0], np.nan), where=total > 0)
    return np.asarray(10.0**mean)
