"""Radio augmentations on raw Jy/beam cutouts and their truth masks.

Applied BEFORE normalisation, so the normaliser sees physical data: random flips, rotations by
multiples of 90 degrees, a multiplicative flux factor and added white Gaussian noise (sigma in
units of the cutout's robust rms). No colour jitter. Every draw comes from the generator passed
in, which the dataset seeds per sample (seed, epoch, position) so that training is reproducible
and a resumed run sees the same augmentations as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

from skysift.detect.config import AugmentConfig

#: MAD -> Gaussian sigma.
MAD_TO_SIGMA = 1.4826


def robust_rms(image: np.ndarray) -> float:
    """Robust rms (1.4826 x MAD) of the finite pixels, Jy/beam; 0 when none are finite."""
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return 0.0
    return float(MAD_TO_SIGMA * np.median(np.abs(finite - np.median(finite))))


def augment(
    image: np.ndarray, masks: np.ndarray, config: AugmentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the radio augmentations to one cutout.

    Parameters
    ----------
    image
        Raw pixels, shape (H, W), Jy/beam (NaN = blanked, kept NaN).
    masks
        Truth masks, shape (N, H, W), bool; transformed geometrically with the image.
    config
        Which augmentations and their ranges.
    rng
        Source of every random draw.

    Returns
    -------
    (image, masks)
        Float32 (H, W) Jy/beam and bool (N, H, W), new arrays.
    """
    out = np.array(image, dtype=np.float32, copy=True)
    out_masks = np.array(masks, dtype=bool, copy=True)
    # Draw every number whatever the switches, so each switch changes only its own effect.
    flip_y, flip_x = rng.random(2) < 0.5
    turns = int(rng.integers(0, 4))
    scale = float(rng.uniform(*config.flux_scale))
    sigma = float(rng.uniform(*config.noise_sigma))
    noise_seed = int(rng.integers(0, 2**31 - 1))
    if config.flips:
        if flip_y:
            out, out_masks = out[::-1], out_masks[:, ::-1]
        if flip_x:
            out, out_masks = out[:, ::-1], out_masks[:, :, ::-1]
    if config.rot90 and out.shape[0] == out.shape[1] and turns:
        out = np.rot90(out, turns)
        out_masks = np.rot90(out_masks, turns, axes=(1, 2))
    rms = robust_rms(out)
    out = out * np.float32(scale)
    if sigma > 0 and rms > 0:
        noise = np.random.default_rng(noise_seed).normal(0.0, sigma * rms, out.shape)
        out = out + noise.astype(np.float32)
    return np.ascontiguousarray(out, dtype=np.float32), np.ascontiguousarray(out_masks)
