"""Map geometry of the simulator: WCS, beam in pixel coordinates, rms variation and blanking.

Conventions: pixel coordinates are 0-based, arrays are indexed (y, x); 2x2 covariance matrices
are in (x, y) order and in pixel^2. Sky position angles are degrees east of north.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.wcs import WCS

from skysift.io.fits_map import Beam
from skysift.sky.config import GeometryConfig, NoiseConfig

#: FWHM = FWHM_TO_SIGMA_INV * sigma
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def make_wcs(geometry: GeometryConfig) -> WCS:
    """Celestial WCS of a simulated map: north up, east left (CDELT1 < 0), centred on CRVAL.

    The reference pixel is the geometric centre of the map (0-based ((nx-1)/2, (ny-1)/2)).
    """
    wcs = WCS(naxis=2)
    proj = geometry.projection
    wcs.wcs.ctype = [f"RA---{proj}", f"DEC--{proj}"]
    wcs.wcs.crval = [geometry.ra_deg, geometry.dec_deg]
    wcs.wcs.crpix = [(geometry.nx + 1) / 2.0, (geometry.ny + 1) / 2.0]
    scale = geometry.pixel_scale_arcsec / 3600.0
    wcs.wcs.cdelt = [-scale, scale]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.equinox = 2000.0
    wcs.wcs.set()
    return wcs


def sky_to_pixel_covariance(
    wcs: WCS, major_arcsec: float, minor_arcsec: float, pa_deg: float
) -> np.ndarray:
    """Covariance (x, y order, pixel^2) of an elliptical Gaussian given by FWHMs on the sky.

    Parameters
    ----------
    wcs
        Celestial WCS; its linear part (CD/PC x CDELT) maps pixel offsets to the intermediate
        world coordinates (xi east, eta north), so any orientation or handedness is honoured.
    major_arcsec, minor_arcsec
        FWHM of the major and minor axes in arcsec.
    pa_deg
        Position angle of the major axis, degrees east of north.

    Returns
    -------
    numpy.ndarray
        Shape (2, 2), pixel^2.
    """
    theta = math.radians(pa_deg)
    u = np.array([math.sin(theta), math.cos(theta)])  # major axis direction in (east, north)
    v = np.array([math.cos(theta), -math.sin(theta)])
    s_maj = major_arcsec / 3600.0 / FWHM_PER_SIGMA
    s_min = minor_arcsec / 3600.0 / FWHM_PER_SIGMA
    cov_sky = s_maj**2 * np.outer(u, u) + s_min**2 * np.outer(v, v)
    matrix = np.asarray(wcs.pixel_scale_matrix, dtype=float)  # deg per pixel, (xi, eta) x (x, y)
    # The intermediate world coordinate xi increases towards east (RA), so with CDELT1 < 0 an
    # eastward offset maps to -x: the inverse matrix takes care of handedness and rotation.
    inv = np.linalg.inv(matrix)
    return np.asarray(inv @ cov_sky @ inv.T)


def beam_covariance(wcs: WCS, beam: Beam) -> np.ndarray:
    """Covariance (x, y order, pixel^2) of the restoring beam on the pixel grid."""
    return sky_to_pixel_covariance(wcs, beam.bmaj_arcsec, beam.bmin_arcsec, beam.bpa_deg)


def gaussian_kernel(cov: np.ndarray, *, n_sigma: float = 5.0) -> np.ndarray:
    """Peak-normalised Gaussian sampled at pixel centres, odd square shape, centred.

    Parameters
    ----------
    cov
        Covariance (x, y order), pixel^2.
    n_sigma
        Half-size of the kernel in units of the largest axis sigma.

    Returns
    -------
    numpy.ndarray
        Shape (2h+1, 2h+1), peak 1 at the centre; its sum is the beam area in pixels.
    """
    sigma_max = math.sqrt(float(np.linalg.eigvalsh(cov).max()))
    half = max(1, math.ceil(n_sigma * sigma_max))
    grid = np.arange(-half, half + 1, dtype=float)
    inv = np.linalg.inv(cov)
    dy, dx = grid[:, None], grid[None, :]
    q = inv[0, 0] * dx * dx + 2.0 * inv[0, 1] * dx * dy + inv[1, 1] * dy * dy
    return np.exp(-0.5 * q)


def _radius_fraction(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Distance from the map centre along y and x, in units of half the shorter side."""
    ny, nx = shape
    half = min(nx, ny) / 2.0
    yy = (np.arange(ny, dtype=np.float32) - (ny - 1) / 2.0) / half
    xx = (np.arange(nx, dtype=np.float32) - (nx - 1) / 2.0) / half
    return yy, xx


def rms_at(noise: NoiseConfig, shape: tuple[int, int], x: float, y: float) -> float:
    """True noise rms in Jy/beam at 0-based pixel (x, y) (also inside blanked regions)."""
    ny, nx = shape
    half = min(nx, ny) / 2.0
    r2 = ((x - (nx - 1) / 2.0) ** 2 + (y - (ny - 1) / 2.0) ** 2) / half**2
    return float(noise.rms_jy * noise.edge_to_centre_ratio**r2)


def rms_map(noise: NoiseConfig, shape: tuple[int, int]) -> np.ndarray:
    """Noise rms map in Jy/beam, shape (ny, nx), float32, not blanked.

    The rms rises like the inverse of a Gaussian primary beam: ``rms_jy * ratio**(r/r_edge)**2``
    with r_edge half the shorter map side.
    """
    yy, xx = _radius_fraction(shape)
    if noise.edge_to_centre_ratio == 1.0:
        return np.full(shape, noise.rms_jy, dtype=np.float32)
    log_ratio = np.float32(math.log(noise.edge_to_centre_ratio))
    r2 = yy[:, None] ** 2 + xx[None, :] ** 2
    out = np.exp(log_ratio * r2)
    out *= np.float32(noise.rms_jy)
    return out.astype(np.float32, copy=False)


def valid_mask(noise: NoiseConfig, shape: tuple[int, int]) -> np.ndarray:
    """Boolean map, shape (ny, nx): True where pixels are kept, False where NaN-blanked."""
    ny, nx = shape
    valid = np.ones(shape, dtype=bool)
    m = noise.blank_margin_pix
    if m > 0:
        valid[:m, :] = False
        valid[ny - m :, :] = False
        valid[:, :m] = False
        valid[:, nx - m :] = False
    if noise.blank_radius_fraction is not None:
        yy, xx = _radius_fraction(shape)
        valid &= (yy[:, None] ** 2 + xx[None, :] ** 2) <= noise.blank_radius_fraction**2
    return valid
