"""Rendering of objects on small stamps, in Jy/beam, and the power-law flux sampler.

The sky is defined in Jy/pixel and convolved with the peak-normalised restoring beam, so a point
source of S Jy has a peak of S Jy/beam and ``sum(stamp) / beam_area_pixels = S``. Gaussian
components are rendered analytically (a Gaussian of covariance C convolved with the beam of
covariance B is a Gaussian of covariance C + B), evaluated at pixel centres at their exact
sub-pixel position. Irregular shapes are built on a stamp in Jy/pixel and FFT-convolved with the
sampled beam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

#: Stamps reach down to this fraction of min(local rms, object peak): far below visibility.
STAMP_FLOOR_FRACTION = 0.01


@dataclass(frozen=True)
class Component:
    """One Gaussian part of an object, before beam convolution.

    Attributes
    ----------
    x, y
        0-based pixel centre.
    flux
        Integrated flux density in Jy.
    cov
        Intrinsic covariance, shape (2, 2), (x, y) order, pixel^2 (zeros for a point source).
    """

    x: float
    y: float
    flux: float
    cov: np.ndarray


@dataclass
class Stamp:
    """A rendered object: ``data`` covers map pixels [y0, y0+ny) x [x0, x0+nx).

    Attributes
    ----------
    y0, x0
        Map pixel of ``data[0, 0]`` (may lie outside the map).
    data
        Noiseless, beam-convolved model, shape (ny, nx), float64, Jy/beam.
    """

    y0: int
    x0: int
    data: np.ndarray

    @property
    def slices(self) -> tuple[slice, slice]:
        """Unclipped map slices of the stamp."""
        ny, nx = self.data.shape
        return slice(self.y0, self.y0 + ny), slice(self.x0, self.x0 + nx)


def covariance_from_fwhm(major: float, minor: float, angle_rad: float) -> np.ndarray:
    """Covariance (x, y order) from FWHMs in pixels and the major-axis angle from +x (radians)."""
    f = 2.0 * math.sqrt(2.0 * math.log(2.0))
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    u = np.array([c, s])
    v = np.array([-s, c])
    return np.asarray((major / f) ** 2 * np.outer(u, u) + (minor / f) ** 2 * np.outer(v, v))


def convolved_peak(flux: float, cov: np.ndarray, beam_cov: np.ndarray) -> float:
    """Peak in Jy/beam of a Gaussian of ``flux`` Jy and intrinsic ``cov`` after beam convolution."""
    return float(flux * math.sqrt(np.linalg.det(beam_cov) / np.linalg.det(cov + beam_cov)))


def render_components(components: list[Component], beam_cov: np.ndarray, *, floor: float) -> Stamp:
    """Render beam-convolved Gaussian components analytically on one stamp.

    Parameters
    ----------
    components
        The object's parts (at least one).
    beam_cov
        Beam covariance (x, y order), pixel^2.
    floor
        Each component's window reaches down to this value in Jy/beam (at least 3 sigma).

    Returns
    -------
    Stamp
        Model in Jy/beam.
    """
    windows = []
    for comp in components:
        total = comp.cov + beam_cov
        amp = convolved_peak(comp.flux, comp.cov, beam_cov)
        k = math.sqrt(2.0 * math.log(max(amp / floor, math.exp(4.5)))) if amp > 0 else 3.0
        hx = k * math.sqrt(total[0, 0])
        hy = k * math.sqrt(total[1, 1])
        win = (
            math.floor(comp.y - hy),
            math.ceil(comp.y + hy) + 1,
            math.floor(comp.x - hx),
            math.ceil(comp.x + hx) + 1,
        )
        windows.append((win, total, amp))
    y0 = min(w[0][0] for w in windows)
    y1 = max(w[0][1] for w in windows)
    x0 = min(w[0][2] for w in windows)
    x1 = max(w[0][3] for w in windows)
    data = np.zeros((y1 - y0, x1 - x0))
    for comp, ((wy0, wy1, wx0, wx1), total, amp) in zip(components, windows, strict=True):
        inv = np.linalg.inv(total)
        dy = (np.arange(wy0, wy1, dtype=float) - comp.y)[:, None]
        dx = (np.arange(wx0, wx1, dtype=float) - comp.x)[None, :]
        q = inv[0, 0] * dx * dx + (2.0 * inv[0, 1]) * dx * dy + inv[1, 1] * dy * dy
        data[wy0 - y0 : wy1 - y0, wx0 - x0 : wx1 - x0] += amp * np.exp(-0.5 * q)
    return Stamp(y0=y0, x0=x0, data=data)


def convolve_sky_stamp(sky: np.ndarray, y0: int, x0: int, kernel: np.ndarray) -> Stamp:
    """FFT-convolve a Jy/pixel stamp with the peak-normalised beam kernel; the stamp grows.

    Parameters
    ----------
    sky
        Surface brightness in Jy/pixel, shape (ny, nx), its [0, 0] at map pixel (y0, x0).
    y0, x0
        Map pixel of ``sky[0, 0]``.
    kernel
        Peak-normalised beam, odd square shape (see :func:`skysift.sky.geometry.gaussian_kernel`).

    Returns
    -------
    Stamp
        Jy/beam, padded by the kernel half-size on every side so no flux is lost.
    """
    half = kernel.shape[0] // 2
    data = fftconvolve(sky, kernel, mode="full")
    return Stamp(y0=y0 - half, x0=x0 - half, data=data)


def sample_power_law(
    rng: np.random.Generator, n: int, *, flux_min: float, flux_max: float, slope: float
) -> np.ndarray:
    """Draw fluxes from dN/dS proportional to S**-slope on [flux_min, flux_max] (inverse CDF).

    Parameters
    ----------
    rng
        Random generator.
    n
        Number of draws.
    flux_min, flux_max
        Bounds in Jy, 0 < flux_min < flux_max.
    slope
        Power-law index of the differential counts (1 gives log-uniform).

    Returns
    -------
    numpy.ndarray
        Shape (n,), Jy.
    """
    if not 0 < flux_min < flux_max:
        raise ValueError(f"need 0 < flux_min < flux_max, got {flux_min}, {flux_max}")
    u = rng.random(n)
    if abs(slope - 1.0) < 1e-12:
        return np.asarray(flux_min * (flux_max / flux_min) ** u)
    e = 1.0 - slope
    lo, hi = flux_min**e, flux_max**e
    return np.asarray((lo + u * (hi - lo)) ** (1.0 / e))
