"""Figures of the detector evaluation (PNG, matplotlib Agg backend).

- completeness and reliability vs S/N per class (as in Riggi et al. and the caesar-mrcnn papers),
- the class-agnostic confusion matrix as a heat map,
- measured / true integrated flux vs S/N of matched compact sources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skysift.io.atomic import atomic_path


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _figure().close(fig)
    return path


def plot_vs_snr(rows: Sequence[Mapping[str, Any]], classes: Sequence[str], path: Path) -> Path:
    """Completeness (truth S/N) and reliability (detection S/N) per class vs S/N bin.

    ``rows`` as from :func:`skysift.evaluate.metrics.binned_table` (quantity ``snr``); bins are
    drawn at their centre in log S/N (the open last bin at 1.5 x its lower edge).
    """
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for name in [*classes, "all (class-aware)"]:
        sel = [r for r in rows if r["class"] == name]
        lo = np.array([max(float(r["lo"]), 1.0) for r in sel])
        hi = np.array(
            [float(r["hi"]) if r["hi"] is not None else 1.5 * lo[i] for i, r in enumerate(sel)]
        )
        centre = np.sqrt(lo * hi)
        style = {"lw": 2.5, "color": "k"} if name.startswith("all") else {"lw": 1.3}
        for ax, key in zip(axes, ("completeness", "reliability"), strict=True):
            values = np.array([np.nan if r[key] is None else float(r[key]) for r in sel])
            if np.isfinite(values).any():
                ax.plot(centre, values, "o-", label=name, **style)
    for ax, key in zip(
        axes, ("completeness (truth S/N)", "reliability (detection S/N)"), strict=True
    ):
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("peak S/N")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_confusion(matrix: Mapping[str, Any], path: Path) -> Path:
    """Heat map of the confusion matrix (rows: true class; columns: predicted class)."""
    plt = _figure()
    counts = np.asarray(matrix["counts"], dtype=float)
    fig, ax = plt.subplots(figsize=(6.5, 5.2))
    row_sum = counts.sum(axis=1, keepdims=True)
    shown = np.divide(counts, row_sum, out=np.zeros_like(counts), where=row_sum > 0)
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(counts):
        ax.text(
            j,
            i,
            f"{int(value)}",
            ha="center",
            va="center",
            color="white" if shown[i, j] > 0.6 else "black",
            fontsize=9,
        )
    ax.set_xticks(range(len(matrix["columns"])), matrix["columns"], rotation=35, ha="right")
    ax.set_yticks(range(len(matrix["rows"])), matrix["rows"])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(image, ax=ax, label="fraction of row")
    return _save(fig, path)


def plot_flux_ratio(compact: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Measured / true integrated flux vs truth S/N of matched compact sources."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    snr = np.array([float(c["snr"]) for c in compact], dtype=float)
    ratio = np.array([float(c["flux_ratio"]) for c in compact], dtype=float)
    trunc = np.array([bool(c["truncated"]) for c in compact], dtype=bool)
    ax.scatter(snr[~trunc], ratio[~trunc], s=12, label="whole")
    if trunc.any():
        ax.scatter(snr[trunc], ratio[trunc], s=12, marker="x", label="truncated by edge")
    ax.axhline(1.0, color="k", lw=1)
    if (snr > 0).any():  # a log axis needs positive data
        ax.set_xscale("log")
    ax.set_xlabel("truth peak S/N")
    ax.set_ylabel("measured / true integrated flux")
    ax.grid(alpha=0.3)
    if len(snr):
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no matched compact sources", transform=ax.transAxes, ha="center")
    return _save(fig, path)
