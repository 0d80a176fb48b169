"""Emission stamps of synthetic sources: DDIM samples of the trained model, or the paste baseline.

A *stamp* is one window to paste: ``snr`` (W, W) float32, the background-free emission in units of
the local rms, ``layout`` (W, W) int16 numbering its objects 1, 2, ... and ``labels`` their class
indices. Mask-conditioned samples keep the given layout (emission outside it is zeroed: by
construction the model only learnt emission inside masks); class-conditioned samples get the layout
of their own pixels above ``mask_snr``. :func:`calibrate_brightness` optionally rescales each
object of a sample to a mean S/N drawn from its class's real objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import UNet2DModel

from skysift.diffusion.config import DiffusionModelConfig
from skysift.diffusion.model import (
    bin_max,
    decode_snr,
    model_forward,
    sample_scheduler,
    upsample,
)


@dataclass(frozen=True)
class Stamp:
    """One synthetic window: emission (S/N), numbered objects, their class indices."""

    snr: np.ndarray
    layout: np.ndarray
    labels: tuple[int, ...]


def coded_masks(layout: np.ndarray, labels: Sequence[int], n_classes: int) -> np.ndarray:
    """(K, W, W) uint8 class-coded masks of a layout."""
    coded = np.zeros((n_classes, *layout.shape), dtype=np.uint8)
    for number, label in enumerate(labels, start=1):
        coded[label][layout == number] = 1
    return coded


def ddim_sample(
    unet: UNet2DModel,
    config: DiffusionModelConfig,
    *,
    masks: np.ndarray | None,
    labels: np.ndarray | None,
    seed: int,
    device: torch.device,
) -> np.ndarray:
    """Deterministic DDIM samples (eta 0) from noise seeded by ``seed``; S/N in map pixels,
    shape (B, W, W). ``masks`` are in map pixels (binned here to the model's)."""
    batch = int(masks.shape[0] if masks is not None else len(labels))  # type: ignore[arg-type]
    size = config.model_pix
    if masks is not None:
        masks = bin_max(masks, config.downsample)
    scheduler = sample_scheduler(config)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((batch, 1, size, size), generator=generator).to(device)
    mask_tensor = torch.from_numpy(masks).to(device) if masks is not None else None
    label_tensor = torch.from_numpy(np.asarray(labels)).to(device) if labels is not None else None
    unet = unet.to(device)
    with torch.inference_mode():
        for t in scheduler.timesteps:
            step_t = torch.full((batch,), int(t), dtype=torch.long, device=device)
            eps = model_forward(unet, x, step_t, masks=mask_tensor, labels=label_tensor)
            x = scheduler.step(eps, t, x, eta=0.0).prev_sample
    snr = decode_snr(upsample(x.float().cpu(), config.downsample)[:, 0], config)
    return snr.numpy().astype(np.float32)


def model_stamps(
    unet: UNet2DModel,
    config: DiffusionModelConfig,
    layouts: Sequence[tuple[np.ndarray, tuple[int, ...]]],
    *,
    n_classes: int,
    seed: int,
    batch_size: int,
    device: torch.device,
    mask_snr: float = 1.0,
    min_mask_pix: int = 4,
) -> list[Stamp | None]:
    """Samples for the given layouts (mask model) or for their first object's class (class model).

    Batch ``b`` draws its noise from seed ``seed + b``. A class-conditioned sample with fewer than
    ``min_mask_pix`` pixels above ``mask_snr`` is returned as None (rejected).
    """
    stamps: list[Stamp | None] = []
    for b, start in enumerate(range(0, len(layouts), batch_size)):
        chunk = layouts[start : start + batch_size]
        if config.conditioning == "mask":
            masks = np.stack([coded_masks(lay, labs, n_classes) for lay, labs in chunk])
            snr = ddim_sample(unet, config, masks=masks, labels=None, seed=seed + b, device=device)
            for s, (lay, labs) in zip(snr, chunk, strict=True):
                stamps.append(Stamp(np.where(lay > 0, s, 0.0).astype(np.float32), lay, labs))
        else:
            labels = np.asarray([labs[0] for _, labs in chunk], dtype=np.int64)
            snr = ddim_sample(unet, config, masks=None, labels=labels, seed=seed + b, device=device)
            for s, label in zip(snr, labels, strict=True):
                own = s >= mask_snr
                if own.sum() < min_mask_pix:
                    stamps.append(None)
                    continue
                stamps.append(
                    Stamp(
                        np.where(own, s, 0.0).astype(np.float32),
                        own.astype(np.int16),
                        (int(label),),
                    )
                )
    return stamps


def paste_stamps(
    layouts: Sequence[tuple[np.ndarray, tuple[int, ...]]],
    typical: Mapping[int, float],
) -> list[Stamp]:
    """The trivial baseline: each object's mask x its class's typical S/N (flat emission; a class
    without windows takes the median of the others)."""
    stamps = []
    for layout, labels in layouts:
        snr = np.zeros(layout.shape, dtype=np.float32)
        for number, label in enumerate(labels, start=1):
            snr[layout == number] = typical.get(label, float(np.median(list(typical.values()))))
        stamps.append(Stamp(snr, layout, labels))
    return stamps


def calibrate_brightness(
    stamps: Sequence[Stamp],
    mean_snr: Mapping[int, np.ndarray],
    rng: np.random.Generator,
) -> list[Stamp]:
    """Each object of each stamp scaled so that its mean S/N inside its mask is a draw from
    ``mean_snr[class]`` (the per-object means of that class's training objects); the pattern
    inside the mask is kept (only positive means are drawn: emission is never negated). An object
    without emission, or a class without a training object of positive mean, is left as
    generated."""
    out = []
    for stamp in stamps:
        snr = stamp.snr.copy()
        for number, label in enumerate(stamp.labels, start=1):
            inside = stamp.layout == number
            pool = np.asarray(mean_snr.get(label, ()), np.float64)
            pool = pool[pool > 0]
            current = float(snr[inside].mean()) if inside.any() else 0.0
            if pool.size == 0 or current <= 0.0:
                continue
            snr[inside] *= float(rng.choice(pool)) / current
        out.append(Stamp(snr.astype(np.float32), stamp.layout, stamp.labels))
    return out
