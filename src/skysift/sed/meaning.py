"""What clusters mean physically: scores against known parameters, per-cluster summaries.

Scores of a clustering against a labelling of the same objects:

- adjusted mutual information (scikit-learn's ``adjusted_mutual_info_score``): 0 for a
  clustering unrelated to the labels, 1 for the same partition up to names;
- purity: the fraction of objects in the majority label of their cluster. It grows with the
  number of clusters (every object its own cluster has purity 1), so read it with n_clusters.

HDBSCAN noise (-1) counts as one more cluster in both ("all objects"); ``ami_teff_clustered``
scores the non-noise objects only. Objects without an embedding (-2) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import adjusted_mutual_info_score

from skysift.sed.products import NOISE, NOT_EMBEDDED


def bin_labels(values: NDArray[np.floating], edges: Sequence[float]) -> NDArray[np.int64]:
    """Bin index of each value (values beyond the edges go to the end bins); -1 for NaN."""
    v = np.asarray(values, np.float64)
    idx = np.clip(np.digitize(v, np.asarray(edges)) - 1, 0, len(edges) - 2)
    return np.where(np.isfinite(v), idx, -1).astype(np.int64)


def purity(clusters: NDArray[np.integer], classes: NDArray[np.integer]) -> float:
    """Fraction of objects whose class is the most common one of their cluster."""
    clusters = np.asarray(clusters)
    classes = np.asarray(classes)
    if clusters.size == 0:
        return float("nan")
    total = 0
    for k in np.unique(clusters):
        _, counts = np.unique(classes[clusters == k], return_counts=True)
        total += int(counts.max())
    return total / clusters.size


def ami(clusters: NDArray[np.integer], classes: NDArray[np.integer]) -> float:
    """Adjusted mutual information of two labellings (NaN for fewer than 2 objects)."""
    if np.asarray(clusters).size < 2:
        return float("nan")
    return float(adjusted_mutual_info_score(classes, clusters))


def clustering_scores(
    labels: NDArray[np.integer],
    truths: Mapping[str, NDArray[np.integer]],
) -> dict[str, float]:
    """Scores of one clustering against several labellings.

    Parameters
    ----------
    labels
        Cluster labels (n,), -1 noise, -2 not embedded (left out).
    truths
        Label name (e.g. ``"teff"``) -> integer labels (n,); -1 entries (unknown) are left out
        of that score.

    Returns
    -------
    dict
        ``n_objects``, ``n_clusters``, ``noise_fraction``, and per labelling ``ami_<name>``,
        ``purity_<name>``; plus ``ami_<first>_clustered`` on non-noise objects only.
    """
    labels = np.asarray(labels)
    used = labels != NOT_EMBEDDED
    out: dict[str, float] = {
        "n_objects": int(used.sum()),
        "n_clusters": len(set(labels[used].tolist()) - {NOISE}),
        "noise_fraction": float(np.mean(labels[used] == NOISE)) if used.any() else math.nan,
    }
    for i, (name, truth) in enumerate(truths.items()):
        truth = np.asarray(truth)
        sel = used & (truth >= 0)
        out[f"ami_{name}"] = ami(labels[sel], truth[sel])
        out[f"purity_{name}"] = purity(labels[sel], truth[sel])
        if i == 0:
            clustered = sel & (labels != NOISE)
            out[f"ami_{name}_clustered"] = ami(labels[clustered], truth[clustered])
    return out


def _pct(values: NDArray[np.float64], q: float) -> float:
    return float(np.percentile(values, q)) if values.size else math.nan


def cluster_summary(
    labels: NDArray[np.integer], params: Mapping[str, NDArray[Any]]
) -> list[dict[str, Any]]:
    """Per cluster (noise as -1): size and the distribution of the known parameters.

    Parameters
    ----------
    labels
        Cluster labels (n,).
    params
        ``teff`` (K), ``logg``, ``av`` (mag), ``has_dust``, ``dust_tau``, ``dust_temp`` (K),
        arrays of shape (n,).

    Returns
    -------
    list of dict
        ``cluster``, ``n``, ``fraction``, Teff 16/50/84th percentiles (K), median log g and A_V,
        ``dust_fraction``, median ``dust_tau`` and ``dust_temp`` of the members with a shell.
    """
    labels = np.asarray(labels)
    used = labels != NOT_EMBEDDED
    rows = []
    for k in sorted(set(labels[used].tolist())):
        sel = labels == k
        dusty = sel & np.asarray(params["has_dust"], bool)
        teff = np.asarray(params["teff"], np.float64)[sel]
        rows.append(
            {
                "cluster": int(k),
                "n": int(sel.sum()),
                "fraction": float(sel.sum() / max(used.sum(), 1)),
                "teff_p16": _pct(teff, 16),
                "teff_median": _pct(teff, 50),
                "teff_p84": _pct(teff, 84),
                "logg_median": _pct(np.asarray(params["logg"], np.float64)[sel], 50),
                "av_median": _pct(np.asarray(params["av"], np.float64)[sel], 50),
                "dust_fraction": float(dusty.sum() / sel.sum()),
                "dust_tau_median": _pct(np.asarray(params["dust_tau"], np.float64)[dusty], 50),
                "dust_temp_median": _pct(np.asarray(params["dust_temp"], np.float64)[dusty], 50),
            }
        )
    return rows


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def rows_markdown(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, digits: int = 3
) -> str:
    """A Markdown table of dict rows (text left, numbers right-aligned; NaN as '-')."""
    if not rows:
        return "(no rows)\n"
    cols = list(columns or rows[0])
    numeric = [isinstance(rows[0][c], int | float) for c in cols]
    lines = [
        "| " + " | ".join(cols) + " |",
        "|" + "".join("---:|" if n else "---|" for n in numeric),
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[c], digits) for c in cols) + " |")
    return "\n".join(lines) + "\n"
