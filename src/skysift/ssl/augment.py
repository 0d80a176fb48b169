"""Radio views for self-supervised learning and fine-tuning, and the evaluation preprocessing.

Built from torchvision's functional transforms on raw pixels, never lightly's RGB defaults
(no colour jitter, no grayscale, no ImageNet mean/std, no tiny crops). A view of a raw cutout
(H, W) is made in this order:

1. rotation by any angle (bilinear, zeros outside: the corners are never seen, see 3);
2. random horizontal and vertical flips;
3. a random resized crop inside the central ``crop_fraction`` of the side (0.68 holds no
   rotation corner at any angle), area fraction ``crop_scale``, resized to the view side;
4. flux scaling by a random factor and white noise of ``noise_sigma`` x the robust rms, on
   the raw pixels (so the noise is in physical units of the image);
5. the one normaliser (:func:`skysift.data.normalise.normalise_channel`), where each channel
   takes, with ``stretch_probability``, a random stretch from ``stretch_choices`` instead of
   its own.

:class:`Preprocess` is the deterministic counterpart (central crop, resize, the spec's own
channels) used for features, probes, evaluation, ``embed`` and ``classify``. Every random
number comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as tvf

from skysift.data.config import ChannelSpec, NormalisationSpec
from skysift.data.normalise import normalise, normalise_channel
from skysift.detect.transforms import robust_rms
from skysift.ssl.config import ViewConfig


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]


def rotate(image: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate (H, W) pixels by ``angle_deg`` counter-clockwise about the centre (bilinear)."""
    out = tvf.rotate(_tensor(image), float(angle_deg), interpolation=InterpolationMode.BILINEAR)
    return out[0].numpy()


def central_box(side: int, crop_fraction: float) -> tuple[int, int]:
    """(offset, length) in pixels of the central part of a side that the model sees."""
    length = max(2, math.floor(side * crop_fraction))
    return (side - length) // 2, length


def resized_crop(
    image: np.ndarray, top: int, left: int, height: int, width: int, size: int
) -> np.ndarray:
    """Crop ``[top, top + height) x [left, left + width)`` and resize to (size, size).

    Antialiased bilinear resizing, so downsampling averages pixels (flux per area kept).
    """
    out = tvf.resized_crop(
        _tensor(image),
        top,
        left,
        height,
        width,
        [size, size],
        interpolation=InterpolationMode.BILINEAR,
        antialias=True,
    )
    return out[0].numpy()


def flux_and_noise(
    image: np.ndarray, factor: float, sigma_rms: float, rng: np.random.Generator
) -> np.ndarray:
    """``factor * image + noise``, noise sigma = ``sigma_rms`` x the image's robust rms.

    A positive factor and no noise keep the sign of every pixel.
    """
    out = image.astype(np.float32) * np.float32(factor)
    rms = robust_rms(image) * factor
    if sigma_rms > 0 and rms > 0:
        out = out + rng.normal(0.0, sigma_rms * rms, image.shape).astype(np.float32)
    return out


def random_normalise(
    image: np.ndarray,
    spec: NormalisationSpec,
    choices: list[ChannelSpec],
    probability: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The one normaliser, each channel possibly with a random stretch: (C, H, W) in [0, 1]."""
    channels = []
    for channel in spec.channels:
        draw, pick = rng.random(), int(rng.integers(0, len(choices)))
        chosen = choices[pick] if draw < probability else channel
        channels.append(normalise_channel(image, chosen))
    return np.stack(channels)


@dataclass(frozen=True)
class Preprocess:
    """Deterministic preprocessing of a raw cutout into model input.

    Attributes
    ----------
    spec
        The normalisation (C channels).
    image_pix
        Output side, pixels.
    crop_fraction
        Central fraction of the side kept before resizing.
    """

    spec: NormalisationSpec
    image_pix: int
    crop_fraction: float

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """(H, W) raw pixels -> (C, image_pix, image_pix) float32 in [0, 1]."""
        top, height = central_box(image.shape[0], self.crop_fraction)
        left, width = central_box(image.shape[1], self.crop_fraction)
        return normalise(resized_crop(image, top, left, height, width, self.image_pix), self.spec)

    def batch(self, images: np.ndarray) -> torch.Tensor:
        """(N, H, W) raw -> tensor (N, C, image_pix, image_pix)."""
        return torch.from_numpy(np.stack([self(image) for image in images]))


@dataclass(frozen=True)
class RadioViews:
    """Random radio views of raw cutouts (see the module docstring for the order).

    Attributes
    ----------
    config
        Augmentation ranges and switches.
    spec
        The normalisation.
    image_pix
        Side of a global view, pixels.
    crop_fraction
        Central fraction of the cutout side inside which crops are taken.
    """

    config: ViewConfig
    spec: NormalisationSpec
    image_pix: int
    crop_fraction: float

    def view(
        self,
        image: np.ndarray,
        rng: np.random.Generator,
        *,
        size: int | None = None,
        scale: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """One view of a raw (H, W) cutout: (C, size, size) float32 in [0, 1], never NaN.

        Parameters
        ----------
        image
            Raw pixels (finite).
        rng
            Source of every random draw.
        size
            View side (default ``image_pix``); DINO's local views are smaller.
        scale
            Crop area fraction range (default ``config.crop_scale``).
        """
        cfg = self.config
        size = size or self.image_pix
        lo, hi = scale or cfg.crop_scale
        angle = float(rng.uniform(0.0, 360.0))
        flip_y, flip_x = rng.random(2) < 0.5
        area = float(rng.uniform(lo, hi))
        log_ratio = rng.uniform(math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]))
        u, v = rng.random(2)
        factor = float(rng.uniform(*cfg.flux_scale))
        sigma = float(rng.uniform(*cfg.noise_sigma))
        out = np.asarray(image, dtype=np.float32)
        if cfg.rotate:
            out = rotate(out, angle)
        if cfg.flips and flip_y:
            out = out[::-1]
        if cfg.flips and flip_x:
            out = out[:, ::-1]
        top0, side_y = central_box(out.shape[0], self.crop_fraction)
        left0, side_x = central_box(out.shape[1], self.crop_fraction)
        ratio = math.exp(log_ratio)
        width = max(2, min(side_x, round(math.sqrt(area * side_x * side_y * ratio))))
        height = max(2, min(side_y, round(math.sqrt(area * side_x * side_y / ratio))))
        top = top0 + int(u * (side_y - height + 1) - 1e-9) if side_y > height else top0
        left = left0 + int(v * (side_x - width + 1) - 1e-9) if side_x > width else left0
        out = resized_crop(out, top, left, height, width, size)
        out = flux_and_noise(out, factor, sigma, rng)
        return random_normalise(out, self.spec, cfg.stretch_choices, cfg.stretch_probability, rng)

    def views(
        self, image: np.ndarray, rng: np.random.Generator, *, local: int = 0
    ) -> list[np.ndarray]:
        """Two global views and ``local`` small ones (DINO multi-crop)."""
        out = [self.view(image, rng), self.view(image, rng)]
        out += [
            self.view(
                image,
                rng,
                size=self.config.local_image_pix,
                scale=self.config.local_crop_scale,
            )
            for _ in range(local)
        ]
        return out


def batch_views(
    views: RadioViews, images: np.ndarray, rngs: list[np.random.Generator], *, local: int = 0
) -> list[torch.Tensor]:
    """Views of a batch: a list (2 + local) of tensors (N, C, s, s)."""
    per_image = [
        views.views(image, rng, local=local) for image, rng in zip(images, rngs, strict=True)
    ]
    return [torch.from_numpy(np.stack([v[k] for v in per_image])) for k in range(2 + local)]
