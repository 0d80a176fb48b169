"""Figure of a synthetic set: per class, real objects beside synthetic ones, on their cutouts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from skysift.data.coco import decode_mask
from skysift.diffusion.compose import CutoutCanvas
from skysift.diffusion.windows import crop
from skysift.io.atomic import atomic_path


def _window(canvas: CutoutCanvas, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(mask)
    cy, cx = (ys.min() + ys.max() + 1) // 2, (xs.min() + xs.max() + 1) // 2
    snr = np.nan_to_num(canvas.image) / canvas.rms if canvas.rms > 0 else canvas.image
    return crop(snr, cy, cx, size), crop(mask, cy, cx, size)


def plot_samples(
    canvases: Sequence[CutoutCanvas],
    path: str | Path,
    *,
    classes: Sequence[str],
    per_row: int = 4,
    size: int = 64,
) -> Path:
    """PNG: a row per class with synthetic objects, ``per_row`` real then ``per_row`` synthetic
    windows (S/N, asinh stretch; the object's mask outlined)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real: dict[str, list[tuple[CutoutCanvas, np.ndarray]]] = {c: [] for c in classes}
    fake: dict[str, list[tuple[CutoutCanvas, np.ndarray]]] = {c: [] for c in classes}
    for canvas in canvases:
        for ann in canvas.annotations:
            if len(real[ann["class"]]) < per_row:
                real[ann["class"]].append((canvas, decode_mask(ann["segmentation"]).astype(bool)))
        for piece in canvas.pasted:
            name = classes[piece["label"]]
            if len(fake[name]) < per_row:
                fake[name].append((canvas, piece["mask"]))
    rows = [c for c in classes if fake[c]]
    fig, axes = plt.subplots(
        max(1, len(rows)),
        2 * per_row,
        figsize=(2 * per_row * 1.3, 1.4 * max(1, len(rows))),
        squeeze=False,
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for r, name in enumerate(rows):
        for kind, items in ((0, real[name]), (1, fake[name])):
            for j, (canvas, mask) in enumerate(items):
                ax = axes[r, kind * per_row + j]
                snr, outline = _window(canvas, mask, size)
                ax.imshow(np.arcsinh(snr / 3.0), origin="lower", cmap="inferno", vmin=-1, vmax=4)
                ax.contour(outline, levels=[0.5], colors="cyan", linewidths=0.5)
                if j == 0:
                    ax.set_title(
                        f"{name}: {'synthetic' if kind else 'real'}", fontsize=7, loc="left"
                    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return Path(path)
