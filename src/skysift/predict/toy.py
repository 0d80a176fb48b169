"""Toy maps and an exact fake detector for tests and benchmarks of whole-map prediction.

:func:`write_toy_map` writes a small map of the *Map* contract (Jy/beam, SIN WCS, beam) with
Gaussian components on white noise. :class:`ThresholdPredictor` is a :class:`TilePredictor`
that needs no training: it "detects" pixels above a fixed Jy/beam threshold in the raw tile and
groups islands closer than ``group_pix`` into one object, so what a tile reports depends only on
the pixels it sees. Tiling and merging can then be checked exactly (a whole-map single-tile run
is the reference). It does not normalise (it is not a model); the real predictor does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy import ndimage

from skysift.data.morphometry import EIGHT_CONNECTED
from skysift.io.atomic import atomic_path
from skysift.predict.inference import TileDetections


@dataclass(frozen=True)
class Component:
    """A 2-D Gaussian: centre (x, y) in 0-based pixels, peak in Jy/beam, sigmas in pixels."""

    x: float
    y: float
    peak: float
    sigma_x: float = 2.0
    sigma_y: float = 2.0

    def render(self, shape: tuple[int, int]) -> np.ndarray:
        """The component on a (ny, nx) grid, Jy/beam."""
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
        u = ((xx - self.x) / self.sigma_x) ** 2 + ((yy - self.y) / self.sigma_y) ** 2
        return self.peak * np.exp(-0.5 * u)

    def flux_jy(self, beam_area_pixels: float) -> float:
        """Integrated flux density, Jy (peak x 2 pi sx sy / beam area)."""
        return self.peak * 2 * np.pi * self.sigma_x * self.sigma_y / beam_area_pixels


def toy_header(
    shape: tuple[int, int], *, pixel_arcsec: float = 2.0, beam_arcsec: float = 8.0
) -> fits.Header:
    """FITS header of a toy map: RA---SIN/DEC--SIN at (150, -30) deg, Jy/beam, round beam."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    wcs.wcs.crval = [150.0, -30.0]
    wcs.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    wcs.wcs.cdelt = [-pixel_arcsec / 3600.0, pixel_arcsec / 3600.0]
    wcs.wcs.radesys = "ICRS"
    header = wcs.to_header()
    header["BUNIT"] = "JY/BEAM"
    header["BMAJ"] = beam_arcsec / 3600.0
    header["BMIN"] = beam_arcsec / 3600.0
    header["BPA"] = 0.0
    return header


def write_toy_map(
    path: str | Path,
    shape: tuple[int, int],
    components: Sequence[Component],
    *,
    rms: float = 1e-4,
    seed: int = 0,
    blank: Sequence[tuple[int, int, int, int]] = (),
    header: fits.Header | None = None,
) -> Path:
    """Write a toy map: components + white noise (``rms`` Jy/beam), NaN in ``blank`` windows.

    Parameters
    ----------
    path
        Output FITS file.
    shape
        (ny, nx) pixels.
    components
        Gaussian components.
    rms
        Noise rms, Jy/beam.
    seed
        Noise seed.
    blank
        Windows (y0, y1, x0, x1) set to NaN.
    header
        Header to use (default :func:`toy_header`); lets tests drop the WCS or the beam.
    """
    data = np.random.default_rng(seed).normal(0.0, rms, shape)
    for component in components:
        data += component.render(shape)
    for y0, y1, x0, x1 in blank:
        data[y0:y1, x0:x1] = np.nan
    with atomic_path(path) as tmp:
        fits.PrimaryHDU(
            data.astype(np.float32), header=toy_header(shape) if header is None else header
        ).writeto(tmp)
    return Path(path)


class ThresholdPredictor:
    """Fake detector: pixels above ``threshold`` Jy/beam, islands grouped within ``group_pix``.

    Class: ``extended-multi`` for several islands, ``extended`` for one island of more than
    ``extended_area_pix`` pixels, else ``compact``. Score: ``0.5 + 0.5 * min(1, peak / (100 x
    threshold))``. Detections come in ``ndimage.label`` (raster) order.
    """

    def __init__(
        self,
        *,
        size_pix: int = 64,
        threshold: float = 5e-4,
        group_pix: int = 6,
        extended_area_pix: int = 200,
        classes: Sequence[str] = ("compact", "extended", "extended-multi"),
    ) -> None:
        self.size_pix = size_pix
        self.threshold = threshold
        self.group_pix = group_pix
        self.extended_area_pix = extended_area_pix
        self.classes = list(classes)

    def detect(self, tile: np.ndarray) -> TileDetections:
        """Detections of one raw tile (size, size), NaN allowed."""
        above = np.nan_to_num(tile, nan=0.0) > self.threshold
        grown = ndimage.binary_dilation(above, structure=EIGHT_CONNECTED, iterations=self.group_pix)
        groups, n = ndimage.label(grown, structure=EIGHT_CONNECTED)
        labels, scores, masks = [], [], []
        for k in range(1, n + 1):
            mask = above & (groups == k)
            if not mask.any():
                continue
            _, islands = ndimage.label(mask, structure=EIGHT_CONNECTED)
            if islands > 1:
                label = "extended-multi"
            elif mask.sum() > self.extended_area_pix:
                label = "extended"
            else:
                label = "compact"
            peak = float(np.nanmax(np.where(mask, tile, -np.inf)))
            labels.append(label)
            scores.append(0.5 + 0.5 * min(1.0, peak / (100 * self.threshold)))
            masks.append(mask)
        size = tile.shape
        return TileDetections(
            labels=labels,
            scores=np.asarray(scores, dtype=np.float64),
            masks=np.asarray(masks, dtype=bool).reshape(len(masks), *size),
        )

    def __call__(self, tiles: Sequence[np.ndarray]) -> list[TileDetections]:
        return [self.detect(tile) for tile in tiles]
