"""Measurements of a detection on the raw cutout: S/N, integrated flux, centroid.

Definitions (used by every score that needs pixels)
---------------------------------------------------
- Cutout rms (Jy/beam): robust, ``1.4826 x median(|p - median(p)|)`` over the finite pixels of
  the cutout (sources are a small fraction of a cutout, so they barely move it).
- Detection S/N: the highest raw pixel inside the detection mask / the cutout rms.
- Integrated flux (Jy): sum of the raw Jy/beam pixels in the mask / the beam area in pixels.
- Position: flux-weighted centroid (weights = pixel values clipped at 0) in 0-based pixels,
  (x, y) = (column, row); the plain mask centroid when no pixel is positive.
- Reported values: a detection that carries its own measurements (a finder's catalogue, see
  :mod:`skysift.evaluate.catalogue_to_coco`: fields ``x``, ``y`` in cutout pixels and
  ``int_flux`` in Jy) is judged on those; the measurements above serve detections without them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skysift.errors import InputFileError


@dataclass(frozen=True)
class Cutout:
    """Raw pixels of one cutout and what is needed to measure on them.

    Attributes
    ----------
    pixels
        float32 (H, W) in Jy/beam (NaN where blank).
    beam_area_pix
        Beam area in pixels (Gaussian: pi bmaj bmin / (4 ln 2) / pixel^2).
    pixel_scale_arcsec
        Pixel size in arcsec.
    rms
        Robust rms of the cutout, Jy/beam.
    """

    pixels: np.ndarray
    beam_area_pix: float
    pixel_scale_arcsec: float
    rms: float


def robust_rms(pixels: np.ndarray) -> float:
    """``1.4826 x MAD`` of the finite pixels (Jy/beam); NaN if there are none."""
    finite = pixels[np.isfinite(pixels)]
    if finite.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(finite - np.median(finite))))


def read_cutout(path: str | Path) -> Cutout:
    """Read a cutout FITS written by ``skysift build-cutouts`` (beam and WCS in the header)."""
    from skysift.errors import SkysiftError
    from skysift.io.fits_map import read_map

    try:
        radio_map = read_map(path)
    except SkysiftError:
        raise
    except OSError as exc:
        raise InputFileError(path, f"not a readable cutout FITS ({exc})") from exc
    pixels = np.asarray(radio_map.data, dtype=np.float32)
    return Cutout(
        pixels=pixels,
        beam_area_pix=float(radio_map.beam_area_pixels),
        pixel_scale_arcsec=float(radio_map.pixel_scale_arcsec),
        rms=robust_rms(pixels),
    )


def detection_snr(cutout: Cutout, mask: np.ndarray) -> float:
    """Peak raw pixel inside ``mask`` / cutout rms (NaN for an empty mask or zero rms)."""
    values = cutout.pixels[mask & np.isfinite(cutout.pixels)]
    if values.size == 0 or not cutout.rms > 0:
        return float("nan")
    return float(values.max() / cutout.rms)


def integrated_flux(cutout: Cutout, mask: np.ndarray) -> float:
    """Sum of the Jy/beam pixels in ``mask`` / beam area in pixels: Jy."""
    values = cutout.pixels[mask & np.isfinite(cutout.pixels)]
    return float(values.sum() / cutout.beam_area_pix)


def centroid(cutout: Cutout, mask: np.ndarray) -> tuple[float, float]:
    """Flux-weighted centroid (x, y) of ``mask`` in 0-based pixels (NaN for an empty mask)."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return float("nan"), float("nan")
    weights = np.nan_to_num(cutout.pixels[ys, xs].astype(float), nan=0.0).clip(min=0.0)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    return float(np.average(xs, weights=weights)), float(np.average(ys, weights=weights))


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def reported_position(prediction: Mapping[str, Any]) -> tuple[float, float] | None:
    """The (x, y) a detection reports itself (0-based cutout pixels), or None if it has none."""
    x, y = _finite(prediction.get("x")), _finite(prediction.get("y"))
    return None if x is None or y is None else (x, y)


def reported_flux(prediction: Mapping[str, Any]) -> float | None:
    """The integrated flux (Jy) a detection reports itself, or None if it has none."""
    return _finite(prediction.get("int_flux"))


def match_position(
    prediction: Mapping[str, Any], mask: np.ndarray, cutout: Cutout | None
) -> tuple[float, float]:
    """Position (x, y), 0-based cutout pixels, at which a detection is matched by position.

    The reported ``x``/``y`` when present and inside the cutout (after rounding to a pixel).
    Otherwise a point of the detection's own mask: its flux-weighted centroid (plain centroid
    without pixels) when that falls inside the mask, else the mask's brightest pixel (first
    mask pixel without pixels) -- so that an arc or ring, or an entry centred in a
    neighbouring cutout, is placed on its visible emission. NaN for an empty mask.
    """
    height, width = mask.shape
    reported = reported_position(prediction)
    if reported is not None:
        col, row = math.floor(reported[0] + 0.5), math.floor(reported[1] + 0.5)
        if 0 <= row < height and 0 <= col < width:
            return reported
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return float("nan"), float("nan")
    if cutout is not None:
        x, y = centroid(cutout, mask)
    else:
        x, y = float(xs.mean()), float(ys.mean())
    if mask[math.floor(y + 0.5), math.floor(x + 0.5)]:
        return x, y
    best = 0
    if cutout is not None:
        values = np.nan_to_num(cutout.pixels[ys, xs].astype(float), nan=-np.inf)
        best = int(np.argmax(values))
    return float(xs[best]), float(ys[best])
