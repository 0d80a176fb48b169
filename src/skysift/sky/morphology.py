"""Single-island morphologies: ``compact`` (unresolved) and ``extended`` (resolved).

Extended sources are elliptical Gaussians, Sersic-like profiles (FFT-convolved with the beam)
or irregular sources made of 2-3 overlapping Gaussian blobs; an irregular source whose blobs
split into several islands at the mask threshold is pulled together until it is one island, so
that ``extended`` always means one island (possibly with 2-3 peaks).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from skysift.sky.context import SimObject, SkyContext
from skysift.sky.geometry import sky_to_pixel_covariance
from skysift.sky.masks import count_islands
from skysift.sky.render import (
    Component,
    convolve_sky_stamp,
    convolved_peak,
    covariance_from_fwhm,
    render_components,
)

log = logging.getLogger(__name__)

#: Largest number of attempts to pull an irregular source into one island.
MAX_SHRINK = 12


def compact_source(ctx: SkyContext, x: float, y: float, flux: float) -> SimObject:
    """An unresolved source of ``flux`` Jy at pixel (x, y): the beam scaled to peak ``flux``."""
    comp = Component(x=x, y=y, flux=flux, cov=np.zeros((2, 2)))
    stamp = render_components([comp], ctx.beam_cov, floor=ctx.floor(flux, x, y))
    return SimObject("compact", x, y, flux, stamp, 1, 0.0, 0.0, math.nan, model_peak=flux)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    if hi <= lo:
        return lo
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _sersic_stamp(
    ctx: SkyContext, x: float, y: float, flux: float, cov: np.ndarray, index: float
) -> SimObject:
    """Sersic-like profile ``exp(-ln2 (r/r_half)**(1/n))`` whose FWHMs are those of ``cov``.

    ``r`` is the elliptical radius in units of sigma of ``cov``; a soft cut at 3 half widths
    keeps the wings finite. The stamp is normalised to ``flux`` Jy exactly, then convolved.
    """
    r_half = math.sqrt(2.0 * math.log(2.0))
    sig_max = math.sqrt(float(np.linalg.eigvalsh(cov).max()))
    half = math.ceil(3.5 * r_half * sig_max) + 1
    ix, iy = round(x), round(y)
    gy = np.arange(iy - half, iy + half + 1, dtype=float)[:, None] - y
    gx = np.arange(ix - half, ix + half + 1, dtype=float)[None, :] - x
    inv = np.linalg.inv(cov)
    r = np.sqrt(inv[0, 0] * gx * gx + 2.0 * inv[0, 1] * gx * gy + inv[1, 1] * gy * gy) / r_half
    sky = np.exp(-math.log(2.0) * r ** (1.0 / index) - (r / 3.0) ** 4)
    sky *= flux / sky.sum()
    stamp = convolve_sky_stamp(sky, iy - half, ix - half, ctx.kernel)
    return SimObject("extended", x, y, flux, stamp, 1)


def extended_source(
    ctx: SkyContext, rng: np.random.Generator, x: float, y: float, flux: float
) -> SimObject:
    """A resolved source: elliptical Gaussian, Sersic-like or irregular (one island).

    Parameters
    ----------
    ctx
        Map context.
    rng
        The class's random stream.
    x, y
        0-based pixel centre.
    flux
        Integrated flux density in Jy.
    """
    cfg = ctx.config.extended
    kind = rng.random()
    major = _log_uniform(rng, cfg.size_min_arcsec, cfg.size_max_arcsec)
    minor = major * rng.uniform(cfg.axis_ratio_min, 1.0)
    pa = rng.uniform(0.0, 180.0)
    if kind < cfg.sersic_fraction:
        cov = sky_to_pixel_covariance(ctx.wcs, major, minor, pa)
        return _sersic_stamp(ctx, x, y, flux, cov, rng.uniform(0.5, 2.5))
    if kind < cfg.sersic_fraction + cfg.irregular_fraction:
        return _irregular_source(ctx, rng, x, y, flux, major / ctx.pixel_scale)
    cov = sky_to_pixel_covariance(ctx.wcs, major, minor, pa)
    comp = Component(x=x, y=y, flux=flux, cov=cov)
    peak = convolved_peak(flux, cov, ctx.beam_cov)
    stamp = render_components([comp], ctx.beam_cov, floor=ctx.floor(peak, x, y))
    return SimObject("extended", x, y, flux, stamp, 1, major, minor, pa, model_peak=peak)


def _irregular_source(
    ctx: SkyContext, rng: np.random.Generator, x: float, y: float, flux: float, size_pix: float
) -> SimObject:
    """2-3 overlapping Gaussian blobs around (x, y), pulled together until they form one island."""
    n_blobs = int(rng.integers(2, 4))
    fractions = rng.dirichlet(np.full(n_blobs, 2.0))
    angles = rng.uniform(0.0, 2.0 * math.pi, n_blobs)
    dists = rng.uniform(0.3, 0.8, n_blobs) * size_pix
    sizes = rng.uniform(0.35, 0.7, n_blobs) * size_pix
    ratios = rng.uniform(0.4, 1.0, n_blobs)
    orients = rng.uniform(0.0, math.pi, n_blobs)
    # Flux-weighted centre at (x, y): shift the offsets.
    ox = dists * np.cos(angles)
    oy = dists * np.sin(angles)
    ox -= np.sum(fractions * ox)
    oy -= np.sum(fractions * oy)
    covs = [
        covariance_from_fwhm(s, s * q, a) for s, q, a in zip(sizes, ratios, orients, strict=True)
    ]
    peak_est = max(
        convolved_peak(flux * f, c, ctx.beam_cov) for f, c in zip(fractions, covs, strict=True)
    )
    shrink = 1.0
    for _ in range(MAX_SHRINK):
        comps = [
            Component(x + shrink * dx, y + shrink * dy, flux * f, c)
            for dx, dy, f, c in zip(ox, oy, fractions, covs, strict=True)
        ]
        stamp = render_components(comps, ctx.beam_cov, floor=ctx.floor(peak_est, x, y))
        thr = ctx.threshold(float(stamp.data.max()), x, y)
        if count_islands(stamp.data >= thr) == 1:
            break
        shrink *= 0.7
    else:  # pragma: no cover - 0.7**12 brings the blobs on top of each other
        log.debug("irregular source at (%.1f, %.1f) kept with several islands", x, y)
    return SimObject("extended", x, y, flux, stamp, n_blobs)
