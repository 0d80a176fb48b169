"""Features of a frozen backbone, and fine-tuning a backbone with a linear head.

Fine-tuning trains every weight (a deep copy of the backbone plus a new linear layer) for a
fixed number of steps whatever the label fraction (same budget for every strategy), with
AdamW, warm-up and a cosine to zero at the last step, class-balanced sampling, and no early
stopping (the test split is never looked at while training). "Supervised from scratch" is this
protocol on a randomly initialised backbone.

After the last step the batch-norm statistics are recomputed on the labelled training images
(one pass in train mode, cumulative averages; "precise BN"): with a few hundred steps the running
averages still remember the first steps' weights, and evaluation with them is noise.
"""

from __future__ import annotations

import copy
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as nnf

from skysift.ssl.augment import RadioViews
from skysift.ssl.config import FinetuneConfig
from skysift.ssl.training import sample_rngs, set_lr, warmup_cosine


@torch.no_grad()
def extract_features(
    backbone: nn.Module, inputs: torch.Tensor, *, batch_size: int, device: torch.device
) -> np.ndarray:
    """Features of preprocessed inputs (N, C, S, S) -> (N, D) float32, backbone in eval mode."""
    backbone.to(device).eval()
    out = [
        backbone(inputs[i : i + batch_size].to(device)).float().cpu()
        for i in range(0, inputs.shape[0], batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def flips_and_turns(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Random flips and 90-degree rotations of each (C, S, S) image of a batch."""
    out = []
    for image in batch:
        turns = int(rng.integers(0, 4))
        if rng.random() < 0.5:
            image = image.flip(-1)
        out.append(torch.rot90(image, turns, dims=(-2, -1)))
    return torch.stack(out)


def class_balanced_probabilities(labels: np.ndarray) -> np.ndarray:
    """Sampling probability of each image: 1 / (its class count), normalised."""
    counts = np.bincount(labels)
    weights = 1.0 / counts[labels]
    return np.asarray(weights / weights.sum())


def finetune(
    backbone: nn.Module,
    feature_dim: int,
    train_inputs: torch.Tensor,
    train_labels: np.ndarray,
    *,
    n_classes: int,
    config: FinetuneConfig,
    seed: int,
    device: torch.device,
    augment: Literal["none", "flips", "views"] | None = None,
    raw_images: np.ndarray | None = None,
    views: RadioViews | None = None,
) -> nn.Sequential:
    """Fine-tune a copy of ``backbone`` with a new linear head; returns the model (eval mode).

    Parameters
    ----------
    backbone
        Trunk mapping (N, C, S, S) to (N, feature_dim); not modified.
    train_inputs
        Preprocessed training images (N, C, S, S).
    train_labels
        Shape (N,), ints in [0, n_classes).
    config
        Steps, batch size, optimiser, sampling and augmentation.
    seed
        Seed of the head init, the sampling and the augmentation.
    augment
        Overrides ``config.augment``; ``views`` needs ``raw_images`` (N, H, W) and ``views``.

    Returns
    -------
    torch.nn.Sequential
        ``[backbone copy, head]``, mapping (N, C, S, S) to logits (N, n_classes).
    """
    mode = augment or config.augment
    if mode == "views" and (raw_images is None or views is None):
        raise ValueError("augment 'views' needs the raw images and a RadioViews")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(copy.deepcopy(backbone), nn.Linear(feature_dim, n_classes))
    model.to(device).train()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    rng = np.random.default_rng(seed)
    labels = np.asarray(train_labels)
    probabilities = class_balanced_probabilities(labels) if config.class_balanced else None
    targets = torch.as_tensor(labels, dtype=torch.long)
    for step in range(config.max_steps):
        index = rng.choice(labels.size, size=config.batch_size, replace=True, p=probabilities)
        if mode == "views":
            assert raw_images is not None and views is not None
            rngs = sample_rngs(seed, step, index.size)
            batch = torch.from_numpy(
                np.stack([views.view(raw_images[i], r) for i, r in zip(index, rngs, strict=True)])
            )
        elif mode == "flips":
            batch = flips_and_turns(train_inputs[index], rng)
        else:
            batch = train_inputs[index]
        set_lr(optimizer, config.lr * warmup_cosine(step, config.max_steps, config.warmup_steps))
        loss = nnf.cross_entropy(model(batch.to(device)), targets[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    recalibrate_batch_norm(model, train_inputs, batch_size=max(2, config.batch_size), device=device)
    return model.eval()


@torch.no_grad()
def recalibrate_batch_norm(
    model: nn.Module, inputs: torch.Tensor, *, batch_size: int, device: torch.device
) -> None:
    """Recompute every batch-norm layer's running mean/var on ``inputs`` (N, C, S, S)."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average over the pass
    model.train()
    for i in range(0, inputs.shape[0], batch_size):
        model(inputs[i : i + batch_size].to(device))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    model.eval()


@torch.no_grad()
def predict(
    model: nn.Module, inputs: torch.Tensor, *, batch_size: int, device: torch.device
) -> np.ndarray:
    """Predicted classes of preprocessed inputs (N, C, S, S), shape (N,)."""
    model.to(device).eval()
    out = [
        model(inputs[i : i + batch_size].to(device)).argmax(dim=1).cpu()
        for i in range(0, inputs.shape[0], batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)
