"""Figures of the SED analysis: AE loss curve, embeddings, cluster parameters, attributions,
real-star temperatures. Every figure is written atomically as PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from skysift.io.atomic import atomic_path
from skysift.sed.products import NOISE, NOT_EMBEDDED


def _save(fig: Figure, path: str | Path, dpi: int = 110) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)


def plot_loss_curve(path: str | Path, history: Sequence[Mapping[str, float]], best: int) -> None:
    """Masked reconstruction loss per epoch, training (with band dropout) and held out; a
    note instead when no autoencoder was trained (empty ``history``)."""
    epoch = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    if not history:
        ax.text(0.5, 0.5, "no autoencoder trained\n(sed.embed.embeddings)", ha="center")
        ax.set_axis_off()
        _save(fig, path)
        return
    ax.semilogy(epoch, [h["train_loss"] for h in history], label="train (band dropout)")
    ax.semilogy(epoch, [h["val_loss"] for h in history], label="held out (all bands shown)")
    ax.axvline(best, color="grey", ls=":", label=f"kept: epoch {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("masked MSE (standardised features)")
    ax.set_title("masked autoencoder")
    ax.legend()
    fig.tight_layout()
    _save(fig, path)


def _label_colours(labels: NDArray[np.integer]) -> tuple[NDArray, int]:
    cmap = plt.get_cmap("tab20")
    colours = np.array([cmap(int(k) % 20) if k >= 0 else (0.75, 0.75, 0.75, 0.4) for k in labels])
    return colours, len(set(labels.tolist()) - {NOISE, NOT_EMBEDDED})


def plot_embeddings(
    path: str | Path,
    embeddings: Mapping[str, NDArray[np.floating]],
    teff: NDArray[np.floating],
    has_dust: NDArray[np.bool_],
    labels: Mapping[str, NDArray[np.integer]],
) -> None:
    """One row per embedding (first two axes): coloured by Teff, by dust shell, by HDBSCAN
    and by GMM cluster (grey: HDBSCAN noise)."""
    names = list(embeddings)
    fig, axes = plt.subplots(len(names), 4, figsize=(17, 4 * len(names)), squeeze=False)
    teff = np.asarray(teff, float)
    dust = np.asarray(has_dust, bool)
    for row, name in enumerate(names):
        z = np.asarray(embeddings[name], float)
        ok = np.isfinite(z).all(axis=1)
        ax = axes[row]
        sc = ax[0].scatter(
            z[ok, 0], z[ok, 1], c=teff[ok], s=2, cmap="plasma_r", norm="log", rasterized=True
        )
        fig.colorbar(sc, ax=ax[0], label="Teff (K)")
        for flag, colour, text in (
            (False, "tab:blue", "no shell"),
            (True, "tab:red", "dust shell"),
        ):
            sel = ok & (dust == flag)
            ax[1].scatter(z[sel, 0], z[sel, 1], s=2, c=colour, label=text, rasterized=True)
        ax[1].legend(markerscale=4, fontsize=8)
        for col, method in ((2, "hdbscan"), (3, "gmm")):
            lab = np.asarray(labels.get(f"{name}_{method}", np.full(ok.size, NOISE)))
            colours, n = _label_colours(lab[ok])
            ax[col].scatter(z[ok, 0], z[ok, 1], s=2, c=colours, rasterized=True)
            noise = np.mean(lab[ok] == NOISE) if ok.any() else 0.0
            extra = f", noise {100 * noise:.0f}%" if method == "hdbscan" else ""
            ax[col].set_title(f"{name}: {method.upper()} {n} clusters{extra}")
        ax[0].set_title(f"{name}: Teff")
        ax[1].set_title(f"{name}: circumstellar dust")
        for a in ax:
            a.set_xlabel(f"{name} 1")
            a.set_ylabel(f"{name} 2")
    fig.tight_layout()
    _save(fig, path, dpi=90)


def plot_cluster_parameters(
    path: str | Path,
    labels: NDArray[np.integer],
    params: Mapping[str, NDArray[Any]],
    title: str,
) -> None:
    """Per cluster (noise as 'n'): Teff, log g, A_V and dust tau (of members with a shell)
    distributions as box plots, and the fraction with a dust shell."""
    labels = np.asarray(labels)
    clusters = sorted(int(k) for k in set(labels.tolist()) - {NOT_EMBEDDED})
    teff = np.asarray(params["teff"], float)
    order = sorted(clusters, key=lambda k: (k == NOISE, np.median(teff[labels == k])))
    names = ["n" if k == NOISE else str(k) for k in order]
    dusty = np.asarray(params["has_dust"], bool)
    panels = (
        ("Teff (K)", teff, None, True),
        ("log g (cgs)", np.asarray(params["logg"], float), None, False),
        ("A_V (mag)", np.asarray(params["av"], float), None, False),
        ("dust tau_V (members with a shell)", np.asarray(params["dust_tau"], float), dusty, True),
    )
    fig, axes = plt.subplots(5, 1, figsize=(max(7, 0.55 * len(order) + 3), 14), sharex=True)
    for ax, (label, values, only, log_scale) in zip(axes, panels, strict=False):
        data = [values[(labels == k) & (only if only is not None else True)] for k in order]
        data = [d if d.size else np.array([np.nan]) for d in data]
        ax.boxplot(data, showfliers=False)
        ax.set_ylabel(label)
        if log_scale:
            ax.set_yscale("log")
    frac = [dusty[labels == k].mean() for k in order]
    axes[4].bar(np.arange(1, len(order) + 1), frac, color="tab:red")
    axes[4].set_ylabel("fraction with dust shell")
    axes[4].set_ylim(0, 1)
    axes[4].set_xticks(np.arange(1, len(order) + 1), names)
    axes[4].set_xlabel("cluster (sorted by median Teff; n = noise)")
    axes[0].set_title(f"{title}: known parameters per cluster")
    fig.tight_layout()
    _save(fig, path)


def plot_attribution_heatmap(
    path: str | Path,
    matrix: NDArray[np.float64],
    row_labels: Sequence[str],
    feature_names: Sequence[str],
    title: str,
) -> None:
    """Clusters x features of mean signed attribution, each row scaled by its largest |value|."""
    scale = np.abs(matrix).max(axis=1, keepdims=True)
    scaled = np.divide(matrix, scale, out=np.zeros_like(matrix), where=scale > 0)
    fig, ax = plt.subplots(figsize=(0.7 * len(feature_names) + 4, 0.45 * len(row_labels) + 2.2))
    im = ax.imshow(scaled, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(np.arange(len(feature_names)), feature_names, rotation=45, ha="right")
    ax.set_yticks(np.arange(len(row_labels)), row_labels)
    fig.colorbar(im, ax=ax, label="mean IG attribution / row max |.|")
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)


def plot_real_temperatures(
    path: str | Path,
    teff_true: NDArray[np.floating],
    estimates: Mapping[str, NDArray[np.floating]],
    *,
    limits: tuple[float, float] = (2500.0, 15000.0),
) -> None:
    """Estimated vs spectroscopic Teff (K), one panel per estimator (four per row), with the
    one-to-one line; the same axes everywhere (estimates beyond them pile up at the edge)."""
    n = len(estimates)
    ncols = min(4, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols, 4.0 * nrows), squeeze=False)
    t = np.asarray(teff_true, float)
    lo, hi = limits
    for ax, (name, est) in zip(axes.flat, estimates.items(), strict=False):
        e = np.asarray(est, float)
        ok = np.isfinite(e) & np.isfinite(t)
        ax.scatter(t[ok], np.clip(e[ok], lo, hi), s=2, alpha=0.3, rasterized=True)
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xlim(lo, 9000)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("spectroscopic Teff (K)")
        ax.set_ylabel("estimated Teff (K)")
        ax.set_title(f"{name} ({ok.sum()} stars)", fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    fig.tight_layout()
    _save(fig, path)
