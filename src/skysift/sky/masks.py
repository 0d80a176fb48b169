"""Object masks of the simulator: threshold, clipping to the map, peaks.

Islands, bounding boxes and sizes are measured by :mod:`skysift.data.morphometry` (re-exported).

All functions work on stamps (small arrays) in 0-based (y, x) pixel order.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from skysift.data.morphometry import EIGHT_CONNECTED, bbox_of, count_islands, largest_extent_pixels
from skysift.sky.config import MaskConfig
from skysift.sky.render import Stamp

__all__ = [
    "EIGHT_CONNECTED",
    "bbox_of",
    "clip_to_map",
    "count_islands",
    "find_peaks",
    "largest_extent_pixels",
    "mask_threshold",
    "peak_size",
    "stamp_valid",
]


def mask_threshold(mask_cfg: MaskConfig, *, peak: float, local_rms: float) -> float:
    """Mask threshold in Jy/beam: ``min(threshold_sigma * local_rms, peak_fraction * peak)``."""
    return float(min(mask_cfg.threshold_sigma * local_rms, mask_cfg.peak_fraction * peak))


def clip_to_map(
    stamp: Stamp, shape: tuple[int, int]
) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """Overlap of a stamp with the map: (map slices, stamp slices), or None if disjoint."""
    ny, nx = shape
    sy, sx = stamp.data.shape
    ya, yb = max(stamp.y0, 0), min(stamp.y0 + sy, ny)
    xa, xb = max(stamp.x0, 0), min(stamp.x0 + sx, nx)
    if ya >= yb or xa >= xb:
        return None
    return (
        (slice(ya, yb), slice(xa, xb)),
        (slice(ya - stamp.y0, yb - stamp.y0), slice(xa - stamp.x0, xb - stamp.x0)),
    )


def stamp_valid(stamp: Stamp, valid: np.ndarray) -> np.ndarray:
    """Boolean array of the stamp's shape: True where the pixel is in the map and not blanked."""
    out = np.zeros(stamp.data.shape, dtype=bool)
    clip = clip_to_map(stamp, valid.shape)
    if clip is not None:
        map_sl, st_sl = clip
        out[st_sl] = valid[map_sl]
    return out


def peak_size(fwhm_min_pixels: float) -> int:
    """Odd neighbourhood (pixels) of the local-maximum search: about one beam FWHM."""
    size = max(3, round(fwhm_min_pixels))
    return size if size % 2 == 1 else size + 1


def find_peaks(data: np.ndarray, mask: np.ndarray, *, size: int) -> np.ndarray:
    """Local maxima of a noiseless model inside a mask.

    Parameters
    ----------
    data
        Model, shape (ny, nx), Jy/beam.
    mask
        Boolean, same shape; only maxima inside it count (the mask already implies the value is
        above the threshold).
    size
        Odd side of the square neighbourhood in pixels (about one beam FWHM).

    Returns
    -------
    numpy.ndarray
        Shape (n_peaks, 2), int, (y, x) indices into ``data``.
    """
    if not mask.any():
        return np.zeros((0, 2), dtype=int)
    filtered = ndimage.maximum_filter(data, size=size, mode="constant", cval=-np.inf)
    is_peak = (data >= filtered) & mask
    # A flat plateau gives several equal maxima next to each other: keep one per plateau.
    labels, n = ndimage.label(is_peak, structure=EIGHT_CONNECTED)
    if n == 0:
        return np.zeros((0, 2), dtype=int)
    centres = ndimage.labeled_comprehension(
        np.arange(data.size).reshape(data.shape),
        labels,
        np.arange(1, n + 1),
        np.min,
        np.int64,
        -1,
    )
    return np.column_stack(np.unravel_index(np.asarray(centres), data.shape))
