"""Scores of classified real stars against their spectroscopic labels, beside what a user
would do without skysift.

User baselines, measured on the same stars:

- a polynomial colour-Teff relation (default: cubic in G - Ks) fitted by least squares to the
  stars' own spectroscopic Teff: in-sample, so it is told the answer that skysift never sees;
- the same polynomial (in log10 Teff) fitted to the synthetic SEDs instead: label-free, like
  skysift, and built on the same model atmospheres;
- HDBSCAN straight on the adjacent colours of the real photometry (stars missing a band are
  left out of it), noise counted as in :mod:`skysift.sed.meaning`.

Temperature scores: Spearman rank correlation, mean absolute error and median offset (K) of an
estimate against the spectroscopic Teff; ``spearman_ebv``: rank correlation of a fitted A_V
with the catalogue's E(B-V); a fitted Teff binned like the labels also gets ``ami_teff``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import spearmanr

from skysift.sed.meaning import ami, bin_labels
from skysift.sed.products import NOISE, NOT_EMBEDDED

#: Columns of the validation table, in order.
COLUMNS = (
    "method",
    "n_stars",
    "n_clusters",
    "noise_fraction",
    "ami_teff",
    "ami_teff_clustered",
    "ami_ebv",
    "spearman_ebv",
    "spearman_teff",
    "mae_teff_k",
    "median_offset_k",
)


def temperature_scores(
    estimate: NDArray[np.floating], teff: NDArray[np.floating]
) -> dict[str, float]:
    """Spearman, mean absolute error (K) and median offset (K) where both are finite."""
    e = np.asarray(estimate, np.float64)
    t = np.asarray(teff, np.float64)
    ok = np.isfinite(e) & np.isfinite(t)
    if ok.sum() < 3:
        return {
            "n_stars": int(ok.sum()),
            "spearman_teff": math.nan,
            "mae_teff_k": math.nan,
            "median_offset_k": math.nan,
        }
    return {
        "n_stars": int(ok.sum()),
        "spearman_teff": float(spearmanr(e[ok], t[ok]).statistic),
        "mae_teff_k": float(np.mean(np.abs(e[ok] - t[ok]))),
        "median_offset_k": float(np.median(e[ok] - t[ok])),
    }


def label_scores(
    labels: NDArray[np.integer], teff_bins: NDArray[np.integer], ebv_bins: NDArray[np.integer]
) -> dict[str, float]:
    """Clusters occupied, noise fraction and AMI against binned Teff and E(B-V) of the labelled
    stars (-2 left out; noise one cluster; ``ami_teff_clustered`` without noise)."""
    labels = np.asarray(labels)
    used = labels != NOT_EMBEDDED
    clustered = used & (labels != NOISE)
    return {
        "n_stars": int(used.sum()),
        "n_clusters": len(set(labels[clustered].tolist())),
        "noise_fraction": float(np.mean(labels[used] == NOISE)) if used.any() else math.nan,
        "ami_teff": ami(labels[used], teff_bins[used]),
        "ami_teff_clustered": ami(labels[clustered], teff_bins[clustered]),
        "ami_ebv": ami(labels[used], ebv_bins[used]),
    }


def polynomial_teff(
    colour_fit: NDArray[np.floating],
    teff_fit: NDArray[np.floating],
    colour: NDArray[np.floating],
    degree: int,
    *,
    log_teff: bool = False,
) -> NDArray[np.float64]:
    """Teff (K) of ``colour`` from a least-squares polynomial fitted to (``colour_fit``,
    ``teff_fit``), in Teff or (``log_teff``) in log10 Teff; NaN where the colour is missing.

    Fitted to a catalogue's own colours and labels it is the in-sample user baseline; fitted to
    the synthetic SEDs it is a label-free one.
    """
    c = np.asarray(colour_fit, np.float64)
    t = np.asarray(teff_fit, np.float64)
    t = np.log10(t) if log_teff else t
    ok = np.isfinite(c) & np.isfinite(t)
    coeffs = np.polynomial.polynomial.polyfit(c[ok], t[ok], degree)
    x = np.asarray(colour, np.float64)
    out = np.full(x.size, np.nan)
    good = np.isfinite(x)
    out[good] = np.polynomial.polynomial.polyval(x[good], coeffs)
    return 10.0**out if log_teff else out


def raw_colour_clusters(mags: NDArray[np.floating], *, min_cluster_size: int) -> NDArray[np.int64]:
    """HDBSCAN on adjacent colours of ``mags`` (n, B); -2 for stars missing any band."""
    import hdbscan

    m = np.asarray(mags, np.float64)
    colours = m[:, :-1] - m[:, 1:]
    ok = np.isfinite(colours).all(axis=1)
    labels = np.full(m.shape[0], NOT_EMBEDDED, np.int64)
    if ok.sum() > min_cluster_size:
        model = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, approx_min_span_tree=False)
        labels[ok] = model.fit(colours[ok]).labels_
    return labels


def row(method: str, **scores: Any) -> dict[str, Any]:
    """A validation-table row with every column (NaN where a score does not apply)."""
    out: dict[str, Any] = {c: math.nan for c in COLUMNS}
    out["method"] = method
    out.update(scores)
    return out


def validation_rows(
    *,
    teff: NDArray[np.floating],
    teff_bins: NDArray[np.integer],
    ebv_bins: NDArray[np.integer],
    baselines: Mapping[str, NDArray[np.floating]],
    raw_labels: NDArray[np.integer],
    raw_name: str,
    clusterings: Mapping[str, tuple[NDArray[np.integer], NDArray[np.floating]]],
    knn_teff: Mapping[str, NDArray[np.floating]],
    fitted: Mapping[str, tuple[NDArray[np.floating], NDArray[np.floating]]] | None = None,
    ebv: NDArray[np.floating] | None = None,
    teff_edges: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """The validation table: user baselines first, then skysift's clusterings, kNN Teff and
    template fits.

    Parameters
    ----------
    teff
        Spectroscopic Teff (K), (n,).
    teff_bins, ebv_bins
        Binned labels (n,), -1 unknown.
    baselines
        Name -> Teff (K) of the user's colour-Teff relations, (n,).
    raw_labels
        Labels of the user's HDBSCAN on raw colours, (n,).
    clusterings
        Name -> (labels, cluster-derived Teff in K), each (n,).
    knn_teff
        Embedding name -> embedding-kNN Teff (K), (n,).
    fitted
        Name -> (Teff in K, A_V in mag) of a template fit, each (n,).
    ebv
        The catalogue's E(B-V) (mag), (n,), for ``spearman_ebv`` of the fits.
    teff_edges
        The Teff bin edges (K) of ``teff_bins``: a fit's Teff binned the same way gets
        ``ami_teff`` against them (how well it sorts the stars into the same bins).
    """
    rows = [row(name, **temperature_scores(est, teff)) for name, est in baselines.items()]
    rows.append(row(raw_name, **label_scores(raw_labels, teff_bins, ebv_bins)))
    for name, (labels, derived) in clusterings.items():
        scores = label_scores(labels, teff_bins, ebv_bins)
        temp = temperature_scores(derived, teff)
        rows.append(
            row(f"skysift {name}", **scores, **{k: v for k, v in temp.items() if k != "n_stars"})
        )
    for name, est in knn_teff.items():
        rows.append(row(f"skysift {name} kNN Teff", **temperature_scores(est, teff)))
    for name, (fit_teff, fit_av) in (fitted or {}).items():
        scores = temperature_scores(fit_teff, teff)
        if ebv is not None:
            scores["spearman_ebv"] = rank_correlation(fit_av, ebv)
        if teff_edges is not None:
            fit_bins = bin_labels(fit_teff, teff_edges)
            both = (fit_bins >= 0) & (np.asarray(teff_bins) >= 0)
            scores["ami_teff"] = ami(fit_bins[both], np.asarray(teff_bins)[both])
        rows.append(row(f"skysift {name}", **scores))
    return rows


def rank_correlation(a: NDArray[np.floating], b: NDArray[np.floating]) -> float:
    """Spearman correlation where both are finite (NaN with fewer than 3 pairs)."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    return float(spearmanr(x[ok], y[ok]).statistic) if ok.sum() >= 3 else math.nan


def colour_label(bands: Sequence[str]) -> str:
    """``BP-G, G-RP, ...`` for a list of bands."""
    return ", ".join(f"{a}-{b}" for a, b in itertools.pairwise(bands))
