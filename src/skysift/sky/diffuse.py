"""``diffuse``: low surface brightness radio halos (round) and relics (elongated arcs).

Both are built in Jy/pixel on a stamp, modulated by a smooth log-normal random field
(turbulence), FFT-convolved with the beam and scaled so that the beam-convolved peak is a
drawn multiple (``peak_snr_min``-``peak_snr_max``) of the local rms: these sources are defined by
their surface brightness; their integrated flux follows from it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from skysift.sky.context import SimObject, SkyContext
from skysift.sky.render import convolve_sky_stamp


def _modulation(
    rng: np.random.Generator, shape: tuple[int, int], scale: float, amp: float
) -> np.ndarray:
    """Smooth log-normal field of mean ~1: ``exp(amp * g - amp**2 / 2)``, g unit-variance."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=max(scale, 1.0))
    std = float(field.std())
    if std > 0:
        field /= std
    return np.asarray(np.exp(amp * field - 0.5 * amp * amp))


def diffuse_source(ctx: SkyContext, rng: np.random.Generator, x: float, y: float) -> SimObject:
    """A radio halo or relic centred at pixel (x, y).

    Parameters
    ----------
    ctx
        Map context.
    rng
        The class's random stream.
    x, y
        0-based pixel position of the centre (halo) or of the arc's mid-point (relic).
    """
    cfg = ctx.config.diffuse
    size = math.exp(rng.uniform(math.log(cfg.size_min_arcsec), math.log(cfg.size_max_arcsec)))
    size /= ctx.pixel_scale
    relic = rng.random() < cfg.relic_fraction
    snr = rng.uniform(cfg.peak_snr_min, cfg.peak_snr_max)
    beam = ctx.beam_fwhm_pixels[0]
    half = math.ceil(0.9 * size) if not relic else math.ceil(size)
    ix, iy = round(x), round(y)
    gy = np.arange(iy - half, iy + half + 1, dtype=float)[:, None] - y
    gx = np.arange(ix - half, ix + half + 1, dtype=float)[None, :] - x
    if relic:
        radius = size * rng.uniform(0.7, 1.5)
        direction = rng.uniform(0.0, 2.0 * math.pi)
        cx, cy = -radius * math.cos(direction), -radius * math.sin(direction)
        rho = np.hypot(gx - cx, gy - cy)
        phi = np.arctan2(gy - cy, gx - cx) - direction
        phi = (phi + math.pi) % (2.0 * math.pi) - math.pi
        phi_half = size / (2.0 * radius)
        width = max(size * rng.uniform(0.05, 0.12), 0.5 * beam)
        w_side = np.where(rho > radius, width / 2.5, width)  # sharper outer (shock) edge
        sky = np.exp(-0.5 * ((rho - radius) / w_side) ** 2 - (phi / phi_half) ** 4)
    else:
        q = rng.uniform(0.7, 1.0)
        angle = rng.uniform(0.0, math.pi)
        c, s = math.cos(angle), math.sin(angle)
        u = gx * c + gy * s
        v = (-gx * s + gy * c) / q
        r = np.hypot(u, v)
        r_e = size / 6.0  # e-folding radius: 5% of the centre at the nominal radius
        sky = np.exp(-r / r_e) * np.exp(-((r / (0.9 * size)) ** 4))
    sky *= _modulation(rng, sky.shape, rng.uniform(1.5, 3.0) * beam / 2.355, cfg.turbulence)
    stamp = convolve_sky_stamp(sky, iy - half, ix - half, ctx.kernel)
    scale = snr * ctx.rms_at(x, y) / float(stamp.data.max())
    stamp.data *= scale
    flux = float(sky.sum() * scale)
    return SimObject("diffuse", x, y, flux, stamp, 1)
