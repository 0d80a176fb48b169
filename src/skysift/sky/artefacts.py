"""``spurious``: sidelobe artefacts around bright sources, as left by imperfect deconvolution.

The pattern of one parent is a sum of concentric rings (cosine in radius, period 1.5-3 beams)
and/or radial spokes (cosine in azimuth, 3-6 spoke pairs), both with positive and negative lobes,
under a radial envelope that is zero at the parent's position (so the parent's own flux is not
changed much) and vanishes at ``radius_beams`` beam FWHM. It is built in Jy/pixel, convolved with
the beam and scaled so its largest absolute value is ``amplitude_min``-``amplitude_max`` times the
parent's peak. The spurious object's mask is the positive part of the pattern above the mask
threshold, outside the parent's mask.
"""

from __future__ import annotations

import math

import numpy as np

from skysift.sky.context import SimObject, SkyContext
from skysift.sky.render import Stamp, convolve_sky_stamp


def artefact_pattern(
    ctx: SkyContext,
    rng: np.random.Generator,
    x: float,
    y: float,
    parent_peak: float,
) -> tuple[Stamp, int]:
    """Beam-convolved ring/spoke pattern around (x, y) in Jy/beam, and its number of parts.

    Parameters
    ----------
    ctx
        Map context.
    rng
        The spurious class's random stream.
    x, y
        0-based pixel position of the parent.
    parent_peak
        Parent's peak in Jy/beam.
    """
    cfg = ctx.config.spurious
    beam = ctx.beam_fwhm_pixels[0]
    outer = cfg.radius_beams * beam
    half = math.ceil(outer) + 1
    ix, iy = round(x), round(y)
    gy = np.arange(iy - half, iy + half + 1, dtype=float)[:, None] - y
    gx = np.arange(ix - half, ix + half + 1, dtype=float)[None, :] - x
    r = np.hypot(gx, gy)
    phi = np.arctan2(gy, gx)
    kind = int(rng.integers(0, 3))  # 0 rings, 1 spokes, 2 both
    pattern = np.zeros_like(r)
    n_parts = 0
    if kind in (0, 2):
        period = rng.uniform(1.5, 3.0) * beam
        pattern += np.cos(2.0 * math.pi * r / period + rng.uniform(0.0, 2.0 * math.pi))
        n_parts += 1
    if kind in (1, 2):
        m = int(rng.integers(3, 7))
        pattern += 1.2 * np.cos(m * (phi - rng.uniform(0.0, math.pi)))
        n_parts += 1
    inner = 1.0 - np.exp(-((r / (1.2 * beam)) ** 4))
    envelope = inner * np.exp(-r / (0.4 * outer)) * np.clip(1.0 - (r / outer) ** 2, 0.0, None)
    stamp = convolve_sky_stamp(pattern * envelope, iy - half, ix - half, ctx.kernel)
    amplitude = rng.uniform(cfg.amplitude_min, cfg.amplitude_max)
    stamp.data *= amplitude * parent_peak / float(np.abs(stamp.data).max())
    return stamp, n_parts


def spurious_object(
    ctx: SkyContext,
    rng: np.random.Generator,
    parent: SimObject,
    parent_id: int,
    parent_mask: np.ndarray,
) -> SimObject:
    """The artefact object of one parent.

    Parameters
    ----------
    ctx
        Map context.
    rng
        The spurious class's random stream.
    parent
        The bright source that has the artefacts.
    parent_id
        Its object id (stored as ``parent_id``).
    parent_mask
        Boolean mask on the parent's stamp; these pixels are excluded from the artefact's mask.

    Returns
    -------
    SimObject
        ``int_flux`` is NaN here; the caller sets it from the mask (positive flux inside it).
    """
    peak = parent.peak
    stamp, n_parts = artefact_pattern(ctx, rng, parent.x, parent.y, peak)
    ny, nx = stamp.data.shape
    exclude = np.zeros((ny, nx), dtype=bool)
    # Place the parent's mask on the artefact stamp (overlapping part only).
    py0, px0 = parent.stamp.y0 - stamp.y0, parent.stamp.x0 - stamp.x0
    sy, sx = parent_mask.shape
    ya, yb = max(py0, 0), min(py0 + sy, ny)
    xa, xb = max(px0, 0), min(px0 + sx, nx)
    if ya < yb and xa < xb:
        exclude[ya:yb, xa:xb] = parent_mask[ya - py0 : yb - py0, xa - px0 : xb - px0]
    return SimObject(
        "spurious",
        parent.x,
        parent.y,
        math.nan,
        stamp,
        n_parts,
        parent_id=parent_id,
        exclude=exclude,
    )
