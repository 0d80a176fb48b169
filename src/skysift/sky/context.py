"""What every object generator needs to know about the map: geometry, beam, noise, masks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from astropy.wcs import WCS

from skysift.io.fits_map import Beam
from skysift.sky.config import SimulationConfig
from skysift.sky.geometry import (
    beam_covariance,
    gaussian_kernel,
    make_wcs,
    rms_at,
    valid_mask,
)
from skysift.sky.masks import mask_threshold, stamp_valid
from skysift.sky.render import STAMP_FLOOR_FRACTION, Stamp


@dataclass
class SimObject:
    """One simulated object with its rendered model and truth attributes.

    Attributes
    ----------
    cls
        Class name (one of :data:`skysift.classes.DEFAULT_CLASSES`).
    x, y
        0-based pixel centre.
    int_flux
        Integrated flux density, Jy.
    stamp
        Noiseless beam-convolved model, Jy/beam.
    n_components
        Physical parts rendered (core, jets, lobes, hotspots, blobs ...).
    major_arcsec, minor_arcsec, pa_deg
        Intrinsic Gaussian FWHMs (arcsec) and PA (deg east of north); NaN where undefined.
    parent_id
        Id of the object an artefact belongs to, else 0.
    model_peak
        Peak of the continuous model in Jy/beam where known analytically (compact and Gaussian
        sources: not lowered by pixel sampling), else None: the stamp's largest pixel is used.
    exclude
        Optional boolean array of the stamp's shape: pixels that may not enter the mask
        (a spurious pattern excludes its parent's mask).
    """

    cls: str
    x: float
    y: float
    int_flux: float
    stamp: Stamp
    n_components: int = 1
    major_arcsec: float = math.nan
    minor_arcsec: float = math.nan
    pa_deg: float = math.nan
    parent_id: int = 0
    exclude: np.ndarray | None = None
    model_peak: float | None = None

    @property
    def peak(self) -> float:
        """Peak of the noiseless model in Jy/beam (see ``model_peak``)."""
        if self.model_peak is not None:
            return self.model_peak
        return float(self.stamp.data.max())


@dataclass
class SkyContext:
    """Map-level quantities shared by all object generators.

    Attributes
    ----------
    config
        The simulation settings.
    wcs
        Celestial WCS of the map.
    beam
        Restoring beam.
    beam_cov
        Beam covariance in pixel^2, (x, y) order.
    kernel
        Peak-normalised sampled beam (odd square).
    valid
        Boolean map (ny, nx): True where not blanked.
    """

    config: SimulationConfig
    wcs: WCS = field(init=False)
    beam: Beam = field(init=False)
    beam_cov: np.ndarray = field(init=False)
    kernel: np.ndarray = field(init=False)
    valid: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        self.wcs = make_wcs(cfg.geometry)
        self.beam = Beam(cfg.beam.bmaj_arcsec, cfg.beam.bmin_arcsec, cfg.beam.bpa_deg)
        self.beam_cov = beam_covariance(self.wcs, self.beam)
        self.kernel = gaussian_kernel(self.beam_cov)
        self.valid = valid_mask(cfg.noise, self.shape)

    @property
    def shape(self) -> tuple[int, int]:
        """Map shape (ny, nx)."""
        return self.config.geometry.ny, self.config.geometry.nx

    @property
    def pixel_scale(self) -> float:
        """Pixel side in arcsec."""
        return self.config.geometry.pixel_scale_arcsec

    @property
    def beam_fwhm_pixels(self) -> tuple[float, float]:
        """Beam (major, minor) FWHM in pixels."""
        return (
            self.config.beam.bmaj_arcsec / self.pixel_scale,
            self.config.beam.bmin_arcsec / self.pixel_scale,
        )

    @property
    def beam_sigma_max(self) -> float:
        """Largest beam sigma in pixels."""
        return float(math.sqrt(np.linalg.eigvalsh(self.beam_cov).max()))

    @property
    def beam_area_pixels(self) -> float:
        """Beam solid angle in pixels (divide summed Jy/beam by it to get Jy)."""
        return self.beam.area_pixels(self.pixel_scale)

    def rms_at(self, x: float, y: float) -> float:
        """True noise rms at pixel (x, y), Jy/beam."""
        return rms_at(self.config.noise, self.shape, x, y)

    def floor(self, peak: float, x: float, y: float) -> float:
        """Lowest model value a stamp must reach (Jy/beam): 1% of min(local rms, peak)."""
        return STAMP_FLOOR_FRACTION * min(self.rms_at(x, y), max(peak, 1e-30))

    def threshold(self, peak: float, x: float, y: float) -> float:
        """Mask threshold of an object of this peak centred at (x, y), Jy/beam."""
        return mask_threshold(self.config.mask, peak=peak, local_rms=self.rms_at(x, y))

    def own_mask(self, obj: SimObject) -> np.ndarray:
        """The object's mask on its stamp: model >= threshold, inside the map, not blanked."""
        data = obj.stamp.data
        thr = self.threshold(obj.peak, obj.x, obj.y)
        mask = (data >= thr) & stamp_valid(obj.stamp, self.valid)
        if obj.exclude is not None:
            mask &= ~obj.exclude
        return mask

    def is_valid(self, x: float, y: float) -> bool:
        """True if pixel (x, y) lies in the map and is not blanked."""
        ix, iy = round(x), round(y)
        ny, nx = self.shape
        return 0 <= ix < nx and 0 <= iy < ny and bool(self.valid[iy, ix])

    def draw_positions(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` positions uniform over the non-blanked area, shape (n, 2) as (x, y) pixels."""
        ny, nx = self.shape
        if not self.valid.any():
            raise ValueError("the whole map is blanked: reduce noise.blank_margin_pix")
        out = np.zeros((0, 2))
        while out.shape[0] < n:
            batch = max(16, 2 * (n - out.shape[0]))
            xy = rng.random((batch, 2)) * np.array([nx, ny]) - 0.5
            ix = np.clip(np.rint(xy[:, 0]).astype(int), 0, nx - 1)
            iy = np.clip(np.rint(xy[:, 1]).astype(int), 0, ny - 1)
            out = np.vstack([out, xy[self.valid[iy, ix]]])
        return out[:n]
