"""Background and rms maps of radio images (mesh-based, sigma-clipped; photutils).

The map is divided into boxes a few beams wide; in each box the pixels are sigma-clipped and a
background (median or SExtractor mode estimate) and an rms (1.4826 x MAD) are computed; the
low-resolution meshes are median-filtered and interpolated back to the full grid. NaN-blanked
areas of the map form a coverage mask: they stay NaN in the outputs and do not bias the
statistics of partly covered boxes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from astropy.stats import SigmaClip, mad_std, sigma_clipped_stats
from photutils.background import (
    Background2D,
    MADStdBackgroundRMS,
    MedianBackground,
    SExtractorBackground,
)

log = logging.getLogger(__name__)

Estimator = Literal["median", "sextractor"]


@dataclass(frozen=True)
class BackgroundMaps:
    """Background and noise of a map.

    Attributes
    ----------
    background, rms
        float32 arrays of the map's shape (ny, nx) in Jy/beam; NaN where the map is NaN.
    box_pixels
        Box side used for the mesh (pixels).
    method
        ``"mesh"`` (Background2D) or ``"global"`` (one sigma-clipped value: map too small or
        too sparsely covered for a mesh).
    """

    background: np.ndarray
    rms: np.ndarray
    box_pixels: int
    method: str

    @property
    def median_rms(self) -> float:
        """Median of the rms map over covered pixels (Jy/beam)."""
        return float(np.nanmedian(self.rms))


def box_size_pixels(box_beams: float, bmaj_arcsec: float, pixel_scale_arcsec: float) -> int:
    """Mesh box side in pixels for a box ``box_beams`` beam major axes wide (at least 8 px)."""
    return max(8, round(box_beams * bmaj_arcsec / pixel_scale_arcsec))


def _global_maps(
    data: np.ndarray, coverage: np.ndarray, *, sigma: float, maxiters: int, estimator: Estimator
) -> tuple[np.ndarray, np.ndarray]:
    finite = data[~coverage]
    mean, median, _ = sigma_clipped_stats(finite, sigma=sigma, maxiters=maxiters)
    clipped = SigmaClip(sigma=sigma, maxiters=maxiters)(finite, masked=False)
    rms = float(mad_std(clipped))
    level = float(median) if estimator == "median" else float(2.5 * median - 1.5 * mean)
    background = np.full(data.shape, level, dtype=np.float32)
    noise = np.full(data.shape, rms, dtype=np.float32)
    background[coverage] = np.nan
    noise[coverage] = np.nan
    return background, noise


def estimate_background(
    data: np.ndarray,
    *,
    box_pixels: int,
    filter_size: int = 3,
    sigma: float = 3.0,
    maxiters: int = 10,
    estimator: Estimator = "median",
    exclude_percentile: float = 50.0,
) -> BackgroundMaps:
    """Mesh-based background and rms maps of a radio image.

    Parameters
    ----------
    data
        Image, shape (ny, nx), Jy/beam; NaN marks blanked pixels.
    box_pixels
        Mesh box side in pixels (see :func:`box_size_pixels`); clipped to the image size.
    filter_size
        Side of the median filter applied to the low-resolution meshes (odd, in boxes).
    sigma, maxiters
        Sigma-clipping threshold (in standard deviations) and iterations within each box.
    estimator
        Background statistic per box: ``"median"`` or ``"sextractor"`` (2.5 median - 1.5 mean).
    exclude_percentile
        Boxes with more than this percentage of masked (blank or clipped) pixels are
        interpolated from their neighbours instead of measured.

    Returns
    -------
    BackgroundMaps
        float32 background and rms maps in Jy/beam, NaN where ``data`` is NaN.

    Raises
    ------
    ValueError
        If ``data`` is not 2-D or has no finite pixel, or an option is out of range.
    """
    if data.ndim != 2:
        raise ValueError(f"data must be 2-D, got shape {data.shape}")
    if box_pixels < 1:
        raise ValueError(f"box_pixels must be >= 1, got {box_pixels}")
    if filter_size < 1 or filter_size % 2 == 0:
        raise ValueError(f"filter_size must be a positive odd integer, got {filter_size}")
    coverage = ~np.isfinite(data)
    if coverage.all():
        raise ValueError("data has no finite pixel")
    ny, nx = data.shape
    box = (min(box_pixels, ny), min(box_pixels, nx))
    n_boxes = math.ceil(ny / box[0]) * math.ceil(nx / box[1])
    work = np.asarray(data, dtype=np.float32)
    if n_boxes < 4:
        log.info("map %dx%d px holds < 4 boxes of %s px: one global estimate", nx, ny, box)
        background, rms = _global_maps(
            work, coverage, sigma=sigma, maxiters=maxiters, estimator=estimator
        )
        return BackgroundMaps(background, rms, box_pixels, "global")
    bkg_estimator = MedianBackground() if estimator == "median" else SExtractorBackground()
    n_filter = min(filter_size, 2 * (min(math.ceil(ny / box[0]), math.ceil(nx / box[1])) // 2) + 1)
    try:
        mesh = Background2D(
            work,
            box,
            coverage_mask=coverage if coverage.any() else None,
            fill_value=np.nan,
            exclude_percentile=exclude_percentile,
            filter_size=(n_filter, n_filter),
            sigma_clip=SigmaClip(sigma=sigma, maxiters=maxiters),
            bkg_estimator=bkg_estimator,
            bkg_rms_estimator=MADStdBackgroundRMS(),
        )
    except ValueError as exc:
        log.warning("mesh background failed (%s); using one global estimate", exc)
        background, rms = _global_maps(
            work, coverage, sigma=sigma, maxiters=maxiters, estimator=estimator
        )
        return BackgroundMaps(background, rms, box_pixels, "global")
    background = np.asarray(mesh.background, dtype=np.float32)
    rms = np.asarray(mesh.background_rms, dtype=np.float32)
    background[coverage] = np.nan
    rms[coverage] = np.nan
    return BackgroundMaps(background, rms, box_pixels, "mesh")
