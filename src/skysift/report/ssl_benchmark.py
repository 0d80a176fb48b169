"""Tables and figures of the SSL benchmark, from its result rows only.

- :func:`results_markdown`: accuracy and macro-F1 (mean +- sample std over seeds, in per
  cent) per strategy and protocol (rows) and label fraction (columns), per-class recall at the
  largest fraction, and the skipped strategies with their reason;
- :func:`plot_accuracy_vs_fraction`: one panel per protocol, a line per strategy;
- :func:`plot_confusions`: row-normalised confusion matrices at the largest fraction;
- :func:`plot_embedding`: 2-D UMAP of the frozen test features coloured by class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from skysift.io.atomic import atomic_path

#: Colour-blind friendly palette (Okabe-Ito) for classes.
CLASS_PALETTE = ("#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#0072B2", "#F0E442")
PROTOCOL_LABELS = {
    "knn": "kNN (frozen)",
    "linear": "linear probe (frozen)",
    "finetune": "fine-tune",
}


def _pct(mean: float, std: float, n: int) -> str:
    if not np.isfinite(mean):
        return "-"
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if n > 1 else f"{100 * mean:.1f}"


def results_markdown(
    summary: Sequence[Mapping[str, Any]],
    classes: Sequence[str],
    fractions: Sequence[float],
    *,
    title: str,
) -> str:
    """The task's tables as Markdown (numbers in per cent)."""
    ok = [r for r in summary if r.get("status") == "ok"]
    skipped = [r for r in summary if r.get("status") != "ok"]
    keys = list(dict.fromkeys((r["label"], r["protocol"]) for r in ok))
    cell = {(r["label"], r["protocol"], r["fraction"]): r for r in ok}
    n_labels = {f: next((r["n_labels"] for r in ok if r["fraction"] == f), 0) for f in fractions}
    header = " | ".join(f"{100 * f:g}% ({n_labels[f]} labels)" for f in fractions)
    lines = [f"# {title}", ""]
    for metric, name in (("accuracy", "Accuracy"), ("macro_f1", "Macro-F1")):
        lines += [f"## {name} (%, mean ± std over seeds)", ""]
        lines += [f"| strategy | protocol | {header} |", "|---|---|" + "---:|" * len(fractions)]
        for label, protocol in keys:
            cells = []
            for f in fractions:
                r = cell.get((label, protocol, f))
                cells.append(
                    _pct(r[f"{metric}_mean"], r[f"{metric}_std"], r["n_seeds"]) if r else "-"
                )
            lines.append(f"| {label} | {PROTOCOL_LABELS.get(protocol, protocol)} | "
                         + " | ".join(cells) + " |")  # fmt: skip
        lines.append("")
    top = max(fractions)
    lines += [f"## Recall per class at {100 * top:g}% labels (%)", ""]
    lines += ["| strategy | protocol | " + " | ".join(classes) + " |"]
    lines += ["|---|---|" + "---:|" * len(classes)]
    for label, protocol in keys:
        r = cell.get((label, protocol, top))
        if r:
            values = [_pct(r[f"recall_{c}_mean"], r[f"recall_{c}_std"], 1) for c in classes]
            lines.append(f"| {label} | {PROTOCOL_LABELS.get(protocol, protocol)} | "
                         + " | ".join(values) + " |")  # fmt: skip
    lines.append("")
    if skipped:
        lines += ["## Not run", ""]
        lines += [f"- {r['label']}: {r['status']}" for r in skipped]
        lines.append("")
    return "\n".join(lines)


def _save(fig: Any, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_accuracy_vs_fraction(
    summary: Sequence[Mapping[str, Any]], path: str | Path, *, title: str
) -> Path:
    """Accuracy (mean, error bar = std over seeds) against label fraction, per protocol."""
    ok = [r for r in summary if r.get("status") == "ok"]
    protocols = list(dict.fromkeys(r["protocol"] for r in ok))
    labels = list(dict.fromkeys(r["label"] for r in ok))
    fig, axes = plt.subplots(
        1, max(1, len(protocols)), figsize=(4.2 * max(1, len(protocols)), 3.8), squeeze=False
    )
    for ax, protocol in zip(axes[0], protocols, strict=False):
        for i, label in enumerate(labels):
            rows = sorted(
                (r for r in ok if r["protocol"] == protocol and r["label"] == label),
                key=lambda r: r["fraction"],
            )
            if rows:
                ax.errorbar(
                    [100 * r["fraction"] for r in rows],
                    [100 * r["accuracy_mean"] for r in rows],
                    yerr=[100 * r["accuracy_std"] for r in rows],
                    marker="o", capsize=3, label=label, color=f"C{i}",
                )  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("labelled training images (%)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(PROTOCOL_LABELS.get(protocol, protocol))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_confusions(
    confusions: Mapping[tuple[str, str], np.ndarray],
    labels: Mapping[str, str],
    classes: Sequence[str],
    path: str | Path,
    *,
    title: str,
) -> Path:
    """Grid of row-normalised confusion matrices: strategies (rows) x protocols (columns)."""
    strategies = list(dict.fromkeys(s for s, _ in confusions))
    protocols = list(dict.fromkeys(p for _, p in confusions))
    n_rows, n_cols = max(1, len(strategies)), max(1, len(protocols))
    size = 0.45 * len(classes) + 1.2
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(size * n_cols + 1, size * n_rows + 0.8), squeeze=False
    )
    for i, strategy in enumerate(strategies):
        for j, protocol in enumerate(protocols):
            ax = axes[i][j]
            matrix = confusions.get((strategy, protocol))
            if matrix is None:
                ax.axis("off")
                continue
            rows = matrix.sum(axis=1, keepdims=True)
            norm = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
            ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
            for (a, b), value in np.ndenumerate(matrix):
                colour = "white" if norm[a, b] > 0.5 else "black"
                ax.text(b, a, str(value), ha="center", va="center", fontsize=6, color=colour)
            ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
            ax.set_yticks(range(len(classes)), classes, fontsize=6)
            if i == 0:
                ax.set_title(PROTOCOL_LABELS.get(protocol, protocol), fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{labels.get(strategy, strategy)}\ntruth", fontsize=7)
    fig.suptitle(f"{title}: predicted (columns) vs truth (rows)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def embed_2d(
    features: np.ndarray, *, seed: int, method: str = "umap", n_neighbors: int = 15
) -> np.ndarray:
    """UMAP (cosine metric; ``seed`` makes it deterministic) or PCA of (N, D) features -> (N, 2)."""
    if method == "pca" or features.shape[0] < 4:
        from sklearn.decomposition import PCA

        n = min(2, features.shape[0], features.shape[1])
        out = np.zeros((features.shape[0], 2))
        out[:, :n] = PCA(n_components=n, random_state=seed).fit_transform(features)
        return out
    import umap

    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(n_neighbors, max(2, features.shape[0] - 1)),
        metric="cosine",
        random_state=seed,
        n_jobs=1,
    )
    return np.asarray(reducer.fit_transform(features))


def plot_embedding(
    embeddings: Mapping[str, np.ndarray],
    labels_of: Mapping[str, str],
    truth: np.ndarray,
    classes: Sequence[str],
    path: str | Path,
    *,
    title: str,
    method: str = "UMAP",
) -> Path:
    """One panel per strategy: the 2-D embedding of the test images coloured by true class."""
    names = list(embeddings)
    n = max(1, len(names))
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        xy = embeddings[name]
        ax.axis("on")
        for c, cls in enumerate(classes):
            chosen = truth == c
            if chosen.any():
                ax.scatter(*xy[chosen].T, s=5, color=CLASS_PALETTE[c % len(CLASS_PALETTE)],
                           label=cls, alpha=0.8, linewidths=0)  # fmt: skip
        ax.set_title(labels_of.get(name, name), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    axes.flat[0].legend(fontsize=6, markerscale=2, loc="best")
    fig.suptitle(f"{title}: {method} of frozen test features, coloured by class", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_explanations(
    inputs: np.ndarray,
    masks: np.ndarray,
    ig: np.ndarray,
    cam: np.ndarray,
    ig_random: np.ndarray,
    labels: Sequence[str],
    summary: Mapping[str, Any],
    path: str | Path,
) -> Path:
    """Per image: input (channel 0) and truth mask, |IG|, Grad-CAM, |IG| of the random model."""
    n = inputs.shape[0]
    layer = summary.get("grad_cam_layer", "")
    titles = ("input + truth mask", "|IG| trained", f"Grad-CAM ({layer})", "|IG| random model")
    fig, axes = plt.subplots(n, 4, figsize=(7.2, 1.8 * n + 0.8), squeeze=False)
    for i in range(n):
        panels = (inputs[i, 0], np.abs(ig[i]).sum(axis=0), cam[i], np.abs(ig_random[i]).sum(axis=0))
        for j, panel in enumerate(panels):
            ax = axes[i][j]
            flat = float(np.ptp(panel)) <= 1e-12 * max(1.0, float(np.abs(panel).max()))
            ax.imshow(
                np.zeros_like(panel) if flat else panel,
                origin="lower",
                cmap="gray" if j == 0 else "magma",
            )
            ax.contour(masks[i], levels=[0.5], colors="#56B4E9", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=7)
        axes[i][0].set_ylabel(labels[i], fontsize=7)
    fig.suptitle(
        f"|IG| mass inside the truth mask: trained {100 * summary['trained']:.0f}%, random model "
        f"{100 * summary['random_model']:.0f}%, mask area {100 * summary['mask_area']:.0f}% "
        f"({summary['n_images']} test images)",
        fontsize=8,
    )
    fig.tight_layout()
    return _save(fig, path)
