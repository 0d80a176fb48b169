"""Pieces shared by pretraining, probes and fine-tuning: schedule, device, seeds, logs.

The learning rate of every protocol ends with its budget: linear warm-up from lr/100, then a
cosine to exactly zero at the last step (a constant rate made test accuracy swing between ~50%
and ~93% from one epoch to the next in the issue's measurements).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skysift.errors import ConfigError
from skysift.io.atomic import atomic_path


def warmup_cosine(step: int, max_steps: int, warmup_steps: int) -> float:
    """Learning-rate factor at ``step`` (0-based): warm-up, then cosine to 0 at the last step."""
    if warmup_steps > 0 and step < warmup_steps:
        return 0.01 + 0.99 * step / warmup_steps
    span = max(1, max_steps - 1 - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / span))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def resolve_device(device: str, key: str = "ssl.device") -> torch.device:
    """``cuda`` when asked for (or ``auto`` and available), else ``cpu``."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(key, "cuda requested but no CUDA device is available")
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def sample_rngs(seed: int, step: int, n: int) -> list[np.random.Generator]:
    """One generator per sample of a batch, derived from (seed, step, position)."""
    return [np.random.default_rng([seed, step, i]) for i in range(n)]


def plot_loss(rows: Sequence[dict[str, Any]], path: str | Path, *, title: str) -> Path:
    """PNG of the loss (and its moving average) and the learning rate against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([r["step"] for r in rows])
    loss = np.array([r["loss"] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, loss, lw=0.5, alpha=0.5, color="C0")
    window = max(1, len(rows) // 20)
    if loss.size >= window:
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1 :], smooth, lw=2, color="C0", label=f"mean of {window}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax2 = ax.twinx()
    ax2.plot(steps, [r["lr"] for r in rows], color="C1", lw=1)
    ax2.set_ylabel("learning rate", color="C1")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return Path(path)
