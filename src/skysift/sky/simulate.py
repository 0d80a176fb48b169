"""Simulate one radio continuum map with its exact truth: the library entry of ``simulate-sky``.

Order of work: draw each population from its own random stream (derived from the seed and the
class name, so changing one class's settings does not change the others), render every object on
a stamp, add the stamps into the noiseless model, build the segmentation (a pixel belongs to the
object whose own model is largest among the objects whose masks cover it), add beam-correlated
noise scaled by the rms map, blank the borders, and measure the truth columns on the final
segmentation.

Spurious artefacts: their parents are the ``spurious.count`` brightest compact sources; a parent
whose peak is below ``min_parent_snr`` x local rms has its flux raised to that level, so that
artefacts of a few per cent of its peak are visible above the noise.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from tqdm import tqdm

from skysift.io.catalogue import truth_table_from_rows
from skysift.io.fits_map import RadioMap
from skysift.sky.artefacts import spurious_object
from skysift.sky.config import SimulationConfig
from skysift.sky.context import SimObject, SkyContext
from skysift.sky.diffuse import diffuse_source
from skysift.sky.geometry import rms_map
from skysift.sky.masks import (
    bbox_of,
    clip_to_map,
    count_islands,
    find_peaks,
    largest_extent_pixels,
    peak_size,
)
from skysift.sky.morphology import compact_source, extended_source
from skysift.sky.noise import correlated_noise
from skysift.sky.radio_galaxy import radio_galaxy
from skysift.sky.render import sample_power_law

log = logging.getLogger(__name__)


@dataclass
class SimulatedSky:
    """Everything ``simulate-sky`` writes.

    Attributes
    ----------
    radio_map
        The map (noise + model), float32 Jy/beam, NaN where blanked, with WCS and beam.
    model
        Noiseless beam-convolved sky, shape (ny, nx), float32, Jy/beam (not blanked).
    segmentation
        Shape (ny, nx), int32: 0 background, else the object id (0 in blanked pixels).
    rms
        True noise rms, shape (ny, nx), float32 Jy/beam, NaN where blanked.
    truth
        Truth table with the columns of :data:`skysift.io.catalogue.TRUTH_COLUMNS`.
    classes_by_id
        Object id -> class name.
    """

    radio_map: RadioMap
    model: np.ndarray
    segmentation: np.ndarray
    rms: np.ndarray
    truth: Table
    classes_by_id: dict[int, str]


def class_rng(seed: int, stream: str) -> np.random.Generator:
    """Independent random stream of one population (or of the noise), derived from the seed."""
    key = zlib.crc32(stream.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(key,)))


def _populations(ctx: SkyContext, seed: int) -> list[SimObject]:
    """Draw and render every object, in class order (ids follow this order)."""
    cfg = ctx.config
    objects: list[SimObject] = []

    rng = class_rng(seed, "compact")
    n = cfg.compact.count
    positions = ctx.draw_positions(rng, n)
    fluxes = sample_power_law(
        rng,
        n,
        flux_min=cfg.compact.flux_min_jy,
        flux_max=cfg.compact.flux_max_jy,
        slope=cfg.compact.slope,
    )
    parents = [int(i) for i in np.argsort(-fluxes, kind="stable")[: cfg.spurious.count]]
    for i in parents:
        x, y = positions[i]
        fluxes[i] = max(fluxes[i], cfg.spurious.min_parent_snr * ctx.rms_at(x, y))
    for (x, y), flux in zip(positions, fluxes, strict=True):
        objects.append(compact_source(ctx, float(x), float(y), float(flux)))
    if len(parents) < cfg.spurious.count:
        log.warning(
            "only %d compact sources to carry %d spurious patterns",
            len(parents),
            cfg.spurious.count,
        )

    pops = (
        ("extended", cfg.extended, extended_source),
        ("extended-multi", cfg.extended_multi, radio_galaxy),
    )
    for name, pop, make in pops:
        rng = class_rng(seed, name)
        positions = ctx.draw_positions(rng, pop.count)
        fluxes = sample_power_law(
            rng, pop.count, flux_min=pop.flux_min_jy, flux_max=pop.flux_max_jy, slope=pop.slope
        )
        for (x, y), flux in tqdm(
            list(zip(positions, fluxes, strict=True)), desc=name, leave=False, disable=None
        ):
            objects.append(make(ctx, rng, float(x), float(y), float(flux)))

    rng = class_rng(seed, "diffuse")
    for x, y in ctx.draw_positions(rng, cfg.diffuse.count):
        objects.append(diffuse_source(ctx, rng, float(x), float(y)))

    rng = class_rng(seed, "spurious")
    for i in parents:
        parent = objects[i]
        objects.append(spurious_object(ctx, rng, parent, i + 1, ctx.own_mask(parent)))
    return objects


def _measure(
    ctx: SkyContext,
    objects: list[SimObject],
    segmentation: np.ndarray,
    peaks: list[np.ndarray],
    name: str,
) -> list[dict[str, object]]:
    """Truth rows measured on the final segmentation (after overlaps and blanking)."""
    rows: list[dict[str, object]] = []
    xs = np.array([o.x for o in objects], dtype=float)
    ys = np.array([o.y for o in objects], dtype=float)
    if objects:
        ra, dec = ctx.wcs.pixel_to_world_values(xs, ys)
    else:
        ra = dec = np.zeros(0)
    for idx, obj in enumerate(objects):
        oid = idx + 1
        clip = clip_to_map(obj.stamp, ctx.shape)
        mask = np.zeros((0, 0), dtype=bool)
        y_off = x_off = 0
        if clip is not None:
            (ms_y, ms_x), _ = clip
            mask = segmentation[ms_y, ms_x] == oid
            y_off, x_off = ms_y.start, ms_x.start
        xmin, ymin, xmax, ymax = bbox_of(mask)
        if xmin >= 0:
            xmin, xmax, ymin, ymax = xmin + x_off, xmax + x_off, ymin + y_off, ymax + y_off
        pk = peaks[idx]
        n_peaks = int(np.count_nonzero(segmentation[pk[:, 0], pk[:, 1]] == oid)) if pk.size else 0
        peak = obj.peak
        local_rms = ctx.rms_at(obj.x, obj.y)
        rows.append(
            {
                "id": oid,
                "class": obj.cls,
                "ra": float(ra[idx]),
                "dec": float(dec[idx]),
                "x": obj.x,
                "y": obj.y,
                "peak_flux": peak,
                "int_flux": obj.int_flux,
                "local_rms": local_rms,
                "snr": peak / local_rms,
                "n_islands": count_islands(mask),
                "n_components": obj.n_components,
                "n_peaks": n_peaks,
                "bbox_xmin": xmin,
                "bbox_ymin": ymin,
                "bbox_xmax": xmax,
                "bbox_ymax": ymax,
                "mask_area": int(mask.sum()),
                "las_arcsec": largest_extent_pixels(mask) * ctx.pixel_scale,
                "major_arcsec": obj.major_arcsec,
                "minor_arcsec": obj.minor_arcsec,
                "pa_deg": obj.pa_deg,
                "parent_id": obj.parent_id,
                "map": name,
            }
        )
    return rows


def simulate_sky(config: SimulationConfig, *, seed: int, name: str) -> SimulatedSky:
    """Simulate one map and its truth.

    Parameters
    ----------
    config
        Simulation settings.
    seed
        Seed of every random draw of this map (same seed and settings: identical output).
    name
        Map name (FITS OBJECT keyword and the truth's ``map`` column).

    Returns
    -------
    SimulatedSky
        Map, noiseless model, segmentation, rms map and truth table.
    """
    ctx = SkyContext(config)
    shape = ctx.shape
    objects = _populations(ctx, seed)
    log.info("rendered %d objects on a %d x %d map", len(objects), shape[1], shape[0])

    model = np.zeros(shape, dtype=np.float32)
    best = np.zeros(shape, dtype=np.float32)
    segmentation = np.zeros(shape, dtype=np.int32)
    size = peak_size(ctx.beam_fwhm_pixels[1])
    peaks: list[np.ndarray] = []
    for idx, obj in enumerate(objects):
        mask = ctx.own_mask(obj)
        if obj.cls == "spurious":
            obj.int_flux = float(obj.stamp.data[mask].sum() / ctx.beam_area_pixels)
        pk = find_peaks(obj.stamp.data, mask, size=size) + np.array([obj.stamp.y0, obj.stamp.x0])
        peaks.append(pk)
        clip = clip_to_map(obj.stamp, shape)
        if clip is None:
            continue
        map_sl, st_sl = clip
        values = obj.stamp.data[st_sl]
        model[map_sl] += values.astype(np.float32)
        best_view, seg_view = best[map_sl], segmentation[map_sl]
        take = mask[st_sl] & (values > best_view)
        best_view[take] = values[take]
        seg_view[take] = idx + 1
    del best

    noise = correlated_noise(class_rng(seed, "noise"), shape, ctx.beam_cov)
    rms = rms_map(config.noise, shape)
    noise *= rms
    noise += model
    noise[~ctx.valid] = np.nan
    rms[~ctx.valid] = np.nan
    data = noise

    rows = _measure(ctx, objects, segmentation, peaks, name)
    truth = truth_table_from_rows(rows)
    radio_map = RadioMap(
        data=data,
        wcs=ctx.wcs,
        beam=ctx.beam,
        name=name,
        frequency_hz=config.geometry.frequency_hz,
    )
    radio_map.header["ORIGIN"] = ("skysift simulate-sky", "simulated map")
    radio_map.header["SIMSEED"] = (seed, "seed of the simulation")
    radio_map.header["NOISERMS"] = (config.noise.rms_jy, "[Jy/beam] noise rms at the map centre")
    classes_by_id = {i + 1: o.cls for i, o in enumerate(objects)}
    return SimulatedSky(radio_map, model, segmentation, rms, truth, classes_by_id)
