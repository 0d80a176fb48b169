"""``extended-multi``: FR I and FR II radio galaxies made of several separate islands.

A galaxy is a set of beam-convolved Gaussian parts placed along two arms from the host (the
object's centre):

- FR II (edge-brightened): two lobes elongated along the arms with compact hotspots at their
  outer ends, an optional faint core and optional faint thin jets;
- FR I (edge-darkened): an optional bright core, optional jets as chains of knots that fade and
  widen away from the core, and two broad plumes that carry the rest of the flux.

Arms can be unequal (asymmetric) and bent towards the same side (C-shaped, like wide- or
narrow-angle tails). After rendering, the islands of the object's mask are counted; while there
are fewer than two, the arms are lengthened by 30% (part sizes fixed) and the galaxy rendered
again. No new random numbers are drawn in that loop, so the result is deterministic. A galaxy
whose mask would leave the map or touch a blanked pixel is moved to a new random position, so
that all its islands are in the map.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from skysift.sky.context import SimObject, SkyContext
from skysift.sky.masks import count_islands, stamp_valid
from skysift.sky.render import Component, covariance_from_fwhm, render_components

log = logging.getLogger(__name__)

#: Arm growth per attempt and the most attempts before giving up on two islands.
GROWTH = 1.3
MAX_GROWTH_STEPS = 25
#: Most new positions tried for a galaxy that does not fit in the unblanked map.
MAX_PLACEMENTS = 40


@dataclass(frozen=True)
class _Part:
    """A part at fractional distance ``t`` along arm ``arm`` (-1: none, at the host)."""

    arm: int
    t: float
    flux_fraction: float
    major: float  # FWHM, pixels, along the arm
    minor: float  # FWHM, pixels, across the arm


@dataclass(frozen=True)
class GalaxyLayout:
    """Random parameters of one radio galaxy (pixel units, angles in radians from +x)."""

    arm_lengths: tuple[float, float]
    arm_angles: tuple[float, float]
    parts: tuple[_Part, ...]
    fr_type: int


def draw_layout(ctx: SkyContext, rng: np.random.Generator) -> GalaxyLayout:
    """Draw the structure of one galaxy from the class's random stream."""
    cfg = ctx.config.extended_multi
    las = math.exp(rng.uniform(math.log(cfg.las_min_arcsec), math.log(cfg.las_max_arcsec)))
    las /= ctx.pixel_scale
    fr2 = rng.random() < cfg.fr2_fraction
    has_core = rng.random() < cfg.core_probability
    has_jets = rng.random() < cfg.jet_probability
    bent = rng.random() < cfg.bent_fraction
    axis = rng.uniform(0.0, 2.0 * math.pi)
    bend = math.radians(rng.uniform(20.0, 60.0) if bent else rng.uniform(-5.0, 5.0))
    asym = rng.uniform(0.7, 1.0)
    a1, a2 = (las / 2.0, las / 2.0 * asym) if rng.random() < 0.5 else (las / 2.0 * asym, las / 2.0)
    flux_asym = rng.uniform(-0.25, 0.25)
    beam = ctx.beam_fwhm_pixels[0]
    parts: list[_Part] = []
    core_frac = 0.0
    if has_core:
        core_frac = rng.uniform(0.01, 0.1) if fr2 else rng.uniform(0.08, 0.25)
        parts.append(_Part(-1, 0.0, core_frac, 0.0, 0.0))
    jet_frac = 0.0
    if has_jets:
        if fr2:
            jet_frac = rng.uniform(0.01, 0.03)
            for arm in (0, 1):
                length = (a1, a2)[arm]
                parts.append(_Part(arm, 0.35, jet_frac / 2, 0.5 * length, 0.4 * beam))
        else:
            jet_frac = rng.uniform(0.15, 0.3)
            weights = np.array([0.5, 0.3, 0.2])
            for arm in (0, 1):
                for t, w, width in zip((0.12, 0.25, 0.4), weights, (0.3, 0.5, 0.8), strict=True):
                    parts.append(_Part(arm, t, jet_frac / 2 * w, width * beam, 0.5 * width * beam))
    rest = 1.0 - core_frac - jet_frac
    for arm, sign in ((0, 1.0), (1, -1.0)):
        length = (a1, a2)[arm]
        lobe_flux = rest / 2.0 * (1.0 + sign * flux_asym)
        if fr2:
            hs = rng.uniform(0.2, 0.5)
            lobe_major = rng.uniform(0.35, 0.5) * length
            lobe_minor = lobe_major * rng.uniform(0.4, 0.7)
            parts.append(_Part(arm, 0.78, lobe_flux * (1 - hs), lobe_major, lobe_minor))
            parts.append(_Part(arm, 0.97, lobe_flux * hs, 0.3 * beam, 0.2 * beam))
        else:
            plume_major = rng.uniform(0.5, 0.7) * length
            plume_minor = plume_major * rng.uniform(0.5, 0.8)
            parts.append(_Part(arm, 0.7, lobe_flux, plume_major, plume_minor))
    return GalaxyLayout(
        arm_lengths=(a1, a2),
        arm_angles=(axis + bend, axis + math.pi - bend),
        parts=tuple(parts),
        fr_type=2 if fr2 else 1,
    )


def galaxy_components(
    layout: GalaxyLayout, x: float, y: float, flux: float, growth: float
) -> list[Component]:
    """The Gaussian parts of a galaxy centred on (x, y) with arms stretched by ``growth``."""
    comps = []
    for part in layout.parts:
        if part.arm < 0:
            comps.append(Component(x, y, flux * part.flux_fraction, np.zeros((2, 2))))
            continue
        angle = layout.arm_angles[part.arm]
        dist = part.t * layout.arm_lengths[part.arm] * growth
        cov = covariance_from_fwhm(part.major, part.minor, angle)
        comps.append(
            Component(
                x + dist * math.cos(angle),
                y + dist * math.sin(angle),
                flux * part.flux_fraction,
                cov,
            )
        )
    return comps


def _render(
    ctx: SkyContext, layout: GalaxyLayout, x: float, y: float, flux: float
) -> tuple[SimObject, int, bool]:
    """Render with growing arms until the mask has >= 2 islands; also say if it fits the map."""
    growth = 1.0
    for _ in range(MAX_GROWTH_STEPS):
        comps = galaxy_components(layout, x, y, flux, growth)
        stamp = render_components(comps, ctx.beam_cov, floor=ctx.floor(flux, x, y))
        thr = ctx.threshold(float(stamp.data.max()), x, y)
        mask = stamp.data >= thr
        n_islands = count_islands(mask)
        if n_islands >= 2:
            break
        growth *= GROWTH
    fits = bool(np.all(stamp_valid(stamp, ctx.valid)[mask]))
    obj = SimObject("extended-multi", x, y, flux, stamp, len(comps))
    return obj, n_islands, fits


def radio_galaxy(
    ctx: SkyContext, rng: np.random.Generator, x: float, y: float, flux: float
) -> SimObject:
    """An FR I / FR II galaxy of ``flux`` Jy hosted at (x, y) (moved if it does not fit).

    Parameters
    ----------
    ctx
        Map context.
    rng
        The class's random stream.
    x, y
        Proposed 0-based pixel position of the host.
    flux
        Integrated flux density in Jy.

    Returns
    -------
    SimObject
        With at least two islands in its own mask (checked, not assumed).
    """
    layout = draw_layout(ctx, rng)
    obj, n_islands, fits = _render(ctx, layout, x, y, flux)
    tries = 0
    while not fits and tries < MAX_PLACEMENTS:
        x, y = ctx.draw_positions(rng, 1)[0]
        obj, n_islands, fits = _render(ctx, layout, float(x), float(y), flux)
        tries += 1
    if not fits:
        log.warning(
            "radio galaxy of %.3g Jy does not fit in the unblanked map; kept at (%.0f, %.0f) "
            "with part of it blanked",
            flux,
            x,
            y,
        )
    if n_islands < 2:  # pragma: no cover - arms 1.3**25 times longer always separate
        log.warning("radio galaxy at (%.0f, %.0f) has only %d island", x, y, n_islands)
    return obj
