"""What the baseline runners share: result type, run-time measurement, quiet third-party
logging, the size-based class rule, mask measurements and the output writer."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import math
import os
import resource
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from skysift.data.morphometry import bbox_of, largest_extent_pixels
from skysift.errors import SkysiftError
from skysift.io.atomic import atomic_path
from skysift.io.catalogue import write_table
from skysift.io.fits_map import RadioMap, write_image

log = logging.getLogger(__name__)


@dataclass
class RuntimeStats:
    """Cost of one finder run.

    Attributes
    ----------
    wall_s
        Wall-clock seconds of the finder call(s) (for Aegean: BANE + Aegean).
    cpu_s
        User + system CPU seconds of this process and its finished children in that time.
    peak_rss_mib
        Peak resident memory (MiB) of this process or its largest child so far: the
        high-water mark since the process started (it includes what ran before the finder).
    """

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0


@dataclass
class BaselineResult:
    """A baseline finder's output on one map.

    Attributes
    ----------
    finder
        ``"pybdsf"`` or ``"aegean"``.
    catalogue
        One row per catalogue entry, columns of :data:`skysift.io.catalogue.TRUTH_COLUMNS`;
        ``id`` is the entry's value in ``segmentation``.
    segmentation
        Shape (ny, nx), int32: 0 = no entry, else the catalogue ``id``.
    native
        The finder's own catalogue (PyBDSF source list; Aegean components), as read/written.
    runtime
        Wall and CPU seconds and peak memory of the finder call.
    parameters
        Settings the finder ran with, and its version.
    files
        Native files kept in the output folder (name -> path).
    """

    finder: str
    catalogue: Table
    segmentation: np.ndarray
    native: Table
    runtime: RuntimeStats
    parameters: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


@contextlib.contextmanager
def measure_runtime() -> Iterator[RuntimeStats]:
    """Fill a :class:`RuntimeStats` with the cost of the ``with`` block."""
    stats = RuntimeStats()
    t0, c0 = time.perf_counter(), os.times()
    try:
        yield stats
    finally:
        c1 = os.times()
        stats.wall_s = time.perf_counter() - t0
        stats.cpu_s = (
            (c1.user - c0.user)
            + (c1.system - c0.system)
            + (c1.children_user - c0.children_user)
            + (c1.children_system - c0.children_system)
        )
        stats.peak_rss_mib = _peak_rss_mib()


@contextlib.contextmanager
def quiet_library(logger_name: str, *, level: int = logging.WARNING) -> Iterator[io.StringIO]:
    """Silence a chatty library for the ``with`` block; restore its logger afterwards.

    Its logger stops propagating to ours (its own handlers still see warnings), its level is
    raised to ``level``, Python warnings (numpy overflow in its fits ...) are ignored, and
    whatever it prints on stdout is captured and yielded (the caller logs it at DEBUG level).
    """
    lib = logging.getLogger(logger_name)
    saved = (lib.level, lib.propagate)
    lib.propagate = False
    lib.setLevel(level)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield captured
    finally:
        lib.setLevel(saved[0])
        lib.propagate = saved[1]


@contextlib.contextmanager
def gc_frozen() -> Iterator[None]:
    """Keep the objects that exist now out of garbage collection for the ``with`` block.

    PyBDSF calls ``gc.collect()`` after each of its ~16 steps; each call walks every object of
    the process, which in a process that holds torch and a model costs 0.1-0.5 s, i.e. 3-8 s per
    PyBDSF run even on a 64x64 cutout whose finding takes milliseconds. ``gc.freeze`` moves the
    objects that already exist to a generation the collector skips; objects made inside the block
    are collected as usual, and ``gc.unfreeze`` hands the old ones back when it ends. A process
    that froze objects itself keeps its own policy: nothing is frozen or unfrozen then.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def deconvolved_major_arcsec(major_arcsec: float, beam_major_arcsec: float) -> float:
    """Approximate intrinsic major FWHM (arcsec) of a fitted (beam-convolved) Gaussian.

    Quadrature subtraction along the major axis, ignoring the beam's position angle; 0 when
    the fit is no larger than the beam.
    """
    if not math.isfinite(major_arcsec):
        return math.nan
    return math.sqrt(max(major_arcsec**2 - beam_major_arcsec**2, 0.0))


def size_class(
    deconvolved_major_arcsec: float, beam_major_arcsec: float, *, resolved_fraction: float
) -> str:
    """``'extended'`` if the intrinsic major FWHM exceeds ``resolved_fraction`` x beam major.

    A NaN size (PyBDSF could not deconvolve) counts as unresolved: ``'compact'``.
    """
    if math.isfinite(deconvolved_major_arcsec) and (
        deconvolved_major_arcsec > resolved_fraction * beam_major_arcsec
    ):
        return "extended"
    return "compact"


def mask_columns(
    segmentation: np.ndarray, ids: np.ndarray, *, pixel_scale_arcsec: float
) -> dict[int, dict[str, float | int]]:
    """Bounding box, area and largest angular size of each id's mask.

    Parameters
    ----------
    segmentation
        Shape (ny, nx), int32 label image.
    ids
        Labels to measure.
    pixel_scale_arcsec
        Pixel side in arcsec (for ``las_arcsec``).

    Returns
    -------
    dict
        id -> truth columns ``bbox_*`` (pixels, [min, max)), ``mask_area`` (pixels),
        ``n_islands`` and ``las_arcsec``; -1 boxes and zero area where the id has no pixel.
    """
    from scipy import ndimage

    from skysift.data.morphometry import count_islands

    out: dict[int, dict[str, float | int]] = {}
    slices = ndimage.find_objects(segmentation)
    for oid in (int(i) for i in ids):
        sl = slices[oid - 1] if 0 < oid <= len(slices) else None
        if sl is None:
            out[oid] = {
                "bbox_xmin": -1,
                "bbox_ymin": -1,
                "bbox_xmax": -1,
                "bbox_ymax": -1,
                "mask_area": 0,
                "n_islands": 0,
                "las_arcsec": 0.0,
            }
            continue
        mask = segmentation[sl] == oid
        xmin, ymin, xmax, ymax = bbox_of(mask)
        out[oid] = {
            "bbox_xmin": xmin + sl[1].start,
            "bbox_ymin": ymin + sl[0].start,
            "bbox_xmax": xmax + sl[1].start,
            "bbox_ymax": ymax + sl[0].start,
            "mask_area": int(mask.sum()),
            "n_islands": count_islands(mask),
            "las_arcsec": largest_extent_pixels(mask) * pixel_scale_arcsec,
        }
    return out


def write_result(result: BaselineResult, out_dir: Path, radio_map: RadioMap) -> None:
    """Write ``catalogue.{fits,csv}``, ``segmentation.fits`` and ``runtime.json`` into ``out_dir``.

    Each file is written atomically; the stage writes into a temporary folder that appears
    under its final name only when everything is complete.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(result.catalogue, out_dir / "catalogue.fits", out_dir / "catalogue.csv")
    write_image(
        out_dir / "segmentation.fits",
        result.segmentation.astype(np.int32),
        radio_map.wcs,
        extra={"FINDER": result.finder, "MAPNAME": radio_map.name},
    )
    record = {
        "finder": result.finder,
        "map": radio_map.name,
        "n_entries": len(result.catalogue),
        **asdict(result.runtime),
        "parameters": result.parameters,
    }
    with atomic_path(out_dir / "runtime.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")


class FinderError(SkysiftError):
    """A third-party finder failed on a map.

    Parameters
    ----------
    finder
        ``"PyBDSF"``, ``"BANE"`` or ``"Aegean"``.
    path
        The map it ran on.
    problem
        What went wrong (the finder's own message).
    """

    def __init__(self, finder: str, path: str | Path, problem: str) -> None:
        self.finder = finder
        self.path = Path(path)
        super().__init__(
            f"{finder} failed on {path}: {problem} (check the map with `skysift ingest-map`; "
            "run with -v for the finder's log)"
        )


def pixel_positions(radio_map: RadioMap, ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """0-based (x, y) pixel positions, shape (N, 2), of sky positions in degrees."""
    if len(ra_deg) == 0:
        return np.zeros((0, 2))
    x, y = radio_map.wcs.world_to_pixel_values(np.asarray(ra_deg), np.asarray(dec_deg))
    return np.column_stack([np.asarray(x, float), np.asarray(y, float)])
