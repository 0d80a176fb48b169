"""A masked autoencoder of SED features: missing bands are neither seen nor scored.

Input of the encoder: the standardised features with missing entries zeroed, concatenated with
the mask (shape (n, 2F)); the decoder reconstructs all F features and the loss is the mean
squared error over *observed* entries only (:func:`masked_mse`), so what stands in a missing
entry changes neither the encoding nor the loss. In training a ``band_dropout`` fraction of the
observed entries is also hidden from the encoder but still scored, which teaches the network to
fill in absent bands: a catalogue without, say, mid-IR photometry then lands where its
complete synthetic twins do.

Training is deterministic on CPU for a seed: one ``torch.Generator`` for weights, batch order
and dropout; the best epoch on a held-out split is kept.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path
from skysift.sed.analysis_config import EmbedConfig
from skysift.sed.features import FeatureSpec

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with SiLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def masked_input(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[x * mask, mask]`` with missing entries exactly 0 (also if they hold NaN), (n, 2F)."""
    return torch.cat([torch.where(mask, x, torch.zeros_like(x)), mask.to(x.dtype)], dim=1)


class MaskedAutoencoder(nn.Module):
    """MLP autoencoder on ``[x * mask, mask]``.

    Parameters
    ----------
    n_features
        F, the number of features.
    n_latent
        Dimension of the embedding.
    hidden
        Encoder hidden widths; the decoder uses them reversed.
    """

    def __init__(self, n_features: int, n_latent: int, hidden: list[int]) -> None:
        super().__init__()
        self.n_features = n_features
        self.n_latent = n_latent
        self.hidden = list(hidden)
        self.encoder = mlp([2 * n_features, *hidden, n_latent])
        self.decoder = mlp([n_latent, *reversed(hidden), n_features])

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Embedding of features ``x`` (n, F) with observed ``mask`` (n, F): (n, n_latent)."""
        return self.encoder(masked_input(x, mask))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedding (n, n_latent) and reconstruction (n, F)."""
        z = self.encode(x, mask)
        return z, self.decoder(z)


def masked_mse(recon: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``(recon - x)^2`` over the observed entries (``mask`` True); 0 if none.

    Missing entries contribute nothing, whatever ``x`` holds there (NaN included), to the value
    and to the gradient.
    """
    diff = torch.where(mask, recon - torch.where(mask, x, recon), torch.zeros_like(recon))
    return (diff**2).sum() / mask.sum().clamp(min=1)


@dataclass(frozen=True)
class TrainResult:
    """A trained autoencoder and its history.

    Attributes
    ----------
    model
        The network, at its best validation epoch, in eval mode.
    history
        One dict per epoch: ``epoch``, ``train_loss``, ``val_loss`` (masked MSE of standardised
        features, validation without dropout), ``seconds``.
    best_epoch
        Epoch whose weights were kept.
    """

    model: MaskedAutoencoder
    history: list[dict[str, float]]
    best_epoch: int


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[NDArray[np.intp], NDArray]:
    """Seeded train / validation indices (at least one of each when n >= 2)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1) if n >= 2 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def train_autoencoder(
    x: NDArray[np.float32], mask: NDArray[np.bool_], *, config: EmbedConfig, seed: int
) -> TrainResult:
    """Train a :class:`MaskedAutoencoder` on standardised features.

    Parameters
    ----------
    x, mask
        Features and observed mask of the embeddable objects, shape (n, F) each.
    config
        Architecture, optimiser, epochs, ``band_dropout``, ``val_fraction``, ``threads``.
    seed
        Seed of the split, the initial weights, the batch order and the dropout.
    """
    torch.set_num_threads(config.threads)
    n, n_feat = x.shape
    if n < 2:
        raise ValueError("need at least two objects to train the autoencoder")
    train_idx, val_idx = split_indices(n, config.val_fraction, seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    mt = torch.from_numpy(np.ascontiguousarray(mask, bool))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = MaskedAutoencoder(n_feat, config.n_components, config.hidden)
    opt = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    history: list[dict[str, float]] = []
    best = (float("inf"), 0, {k: v.clone() for k, v in model.state_dict().items()})
    start = time.perf_counter()
    tr = torch.from_numpy(train_idx)
    for epoch in range(1, config.epochs + 1):
        model.train()
        total, weight = 0.0, 0
        for batch in tr[torch.randperm(tr.numel(), generator=gen)].split(config.batch_size):
            xb, mb = xt[batch], mt[batch]
            keep = torch.rand(mb.shape, generator=gen) >= config.band_dropout
            _, recon = model(xb, mb & keep)
            loss = masked_mse(recon, xb, mb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            count = int(mb.sum())
            total += float(loss.detach()) * count
            weight += count
        sched.step()
        val = evaluate_loss(model, xt[val_idx], mt[val_idx])
        history.append(
            {
                "epoch": float(epoch),
                "train_loss": total / max(weight, 1),
                "val_loss": val,
                "seconds": time.perf_counter() - start,
            }
        )
        if val < best[0]:
            best = (val, epoch, {k: v.clone() for k, v in model.state_dict().items()})
        if epoch % config.log_every == 0 or epoch in (1, config.epochs):
            log.info(
                "AE epoch %d/%d: train %.4f, val %.4f (%.1f s)",
                epoch,
                config.epochs,
                history[-1]["train_loss"],
                val,
                history[-1]["seconds"],
            )
    model.load_state_dict(best[2])
    model.eval()
    log.info("AE best epoch %d: val loss %.4f", best[1], best[0])
    return TrainResult(model=model, history=history, best_epoch=best[1])


@torch.no_grad()
def evaluate_loss(model: MaskedAutoencoder, x: torch.Tensor, mask: torch.Tensor) -> float:
    """Masked MSE of ``model`` on (x, mask), all bands shown to the encoder."""
    if x.shape[0] == 0:
        return float("nan")
    model.eval()
    _, recon = model(x, mask)
    return float(masked_mse(recon, x, mask))


@torch.no_grad()
def encode(
    model: MaskedAutoencoder, x: NDArray[np.float32], mask: NDArray[np.bool_], batch: int = 65536
) -> NDArray[np.float32]:
    """Embeddings of features (n, F) with mask (n, F): shape (n, n_latent), float32."""
    model.eval()
    out = [
        model.encode(torch.from_numpy(x[i : i + batch]), torch.from_numpy(mask[i : i + batch]))
        for i in range(0, x.shape[0], batch)
    ]
    if not out:
        return np.zeros((0, model.n_latent), np.float32)
    return torch.cat(out).numpy().astype(np.float32)


def save_autoencoder(
    path: str | Path, model: MaskedAutoencoder, spec: FeatureSpec, config: EmbedConfig, **extra: Any
) -> None:
    """Write the weights with the feature spec and settings they need (atomically)."""
    payload = {
        "model": model.state_dict(),
        "skysift": {
            "version": CHECKPOINT_VERSION,
            "n_features": model.n_features,
            "n_latent": model.n_latent,
            "hidden": model.hidden,
            "feature_spec": spec.to_dict(),
            "embed_config": config.model_dump(),
            **extra,
        },
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_autoencoder(path: str | Path) -> tuple[MaskedAutoencoder, FeatureSpec]:
    """Read a checkpoint of :func:`save_autoencoder`: the model (eval mode) and its spec."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "autoencoder checkpoint not found (written by sed-embed)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        meta = payload["skysift"]
    except (KeyError, TypeError, RuntimeError, EOFError) as exc:
        raise InputFileError(path, f"not a skysift autoencoder checkpoint ({exc})") from exc
    if meta.get("version") != CHECKPOINT_VERSION:
        raise InputFileError(path, f"checkpoint version {meta.get('version')!r} unknown")
    spec = FeatureSpec.from_dict(meta["feature_spec"], source=path)
    model = MaskedAutoencoder(meta["n_features"], meta["n_latent"], meta["hidden"])
    model.load_state_dict(payload["model"])
    model.eval()
    return model, spec
