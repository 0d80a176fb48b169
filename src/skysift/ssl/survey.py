"""SSL cutout sets cut from maps: labelled RGZ 6-class, unlabelled random and curated.

Maps are read with the project's one reader (:func:`skysift.io.fits_map.read_map`), truth with
:func:`skysift.io.catalogue.read_truth`, segmentations with
:func:`skysift.data.cutouts.read_segmentation`. Pixels are 0-based (y, x); a cutout of side
``S`` with origin ``(y0, x0)`` covers ``[y0, y0 + S) x [x0, x0 + S)``. The model later sees
the central ``crop_fraction`` of each cutout, so a labelled object must fit inside that part.

Splits of the labelled set are by sky region with the training-set builder's own functions
(:mod:`skysift.data.split`): an object belongs to the split of the block holding its centre,
and a cutout holding a mask pixel of an object of another split is dropped.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from skysift.data.cutouts import read_segmentation
from skysift.data.split import block_split_image, cutout_leaks, make_blocks, object_splits
from skysift.errors import InputFileError
from skysift.io.catalogue import read_truth
from skysift.io.fits_map import RadioMap, read_map
from skysift.ssl.config import LabelledSetConfig
from skysift.ssl.datasets import UNLABELLED, CutoutSet, finite_or_zero
from skysift.ssl.labels import RGZ_CLASSES, rgz_class

log = logging.getLogger(__name__)

#: Truth classes that are radio sources in the RGZ sense (not artefacts, not diffuse emission).
SOURCE_CLASSES: tuple[str, ...] = ("compact", "extended", "extended-multi")


@dataclass(frozen=True)
class LabelledMap:
    """The three files of one simulated (or annotated) map."""

    map_path: Path
    segmentation_path: Path
    truth_path: Path


def _window(data: np.ndarray, y0: int, x0: int, size: int) -> np.ndarray:
    return data[y0 : y0 + size, x0 : x0 + size]


def _inside(shape: tuple[int, int], y0: int, x0: int, size: int) -> bool:
    return y0 >= 0 and x0 >= 0 and y0 + size <= shape[0] and x0 + size <= shape[1]


def centred_origin(cx: float, cy: float, size: int) -> tuple[int, int]:
    """Origin (y0, x0) of the cutout of side ``size`` whose centre is nearest (cy, cx)."""
    half = (size - 1) / 2.0
    return math.floor(cy - half + 0.5), math.floor(cx - half + 0.5)


def _cap_per_class(labels: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    keep = np.ones(labels.size, dtype=bool)
    if cap is None:
        return keep
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if members.size > cap:
            drop = rng.choice(members, size=members.size - cap, replace=False)
            keep[drop] = False
    return keep


def labelled_from_maps(
    maps: Sequence[LabelledMap],
    config: LabelledSetConfig,
    *,
    cutout_pix: int,
    crop_fraction: float,
    min_valid_fraction: float,
    seed: int,
) -> CutoutSet:
    """The RGZ 6-class set: one source-centred cutout per labelled object.

    Parameters
    ----------
    maps
        Map, segmentation and truth files (truth columns ``n_islands``, ``n_peaks``, ``snr``,
        bbox, ``class``).
    config
        S/N cut, per-class cap, split fractions and block size.
    cutout_pix
        Cutout side, pixels of the map.
    crop_fraction
        Central fraction of the side the model sees; the object's bbox must fit in it.
    min_valid_fraction
        Cutouts with fewer finite pixels are dropped.
    seed
        Seed of the block-to-split assignment and of the per-class cap.

    Returns
    -------
    CutoutSet
        Kind ``labelled``, classes :data:`RGZ_CLASSES`, ``masks`` = the object's own mask.
    """
    loaded = []
    for entry in maps:
        radio_map = read_map(entry.map_path)
        segmentation = read_segmentation(entry.segmentation_path, radio_map.shape)
        loaded.append((entry, radio_map, segmentation, read_truth(entry.truth_path)))
    blocks = make_blocks(
        [m.shape for _, m, _, _ in loaded],
        config.region_block_pix,
        config.split.as_tuple(),
        seed=seed,
    )
    visible = math.floor(crop_fraction * cutout_pix)
    images, masks, labels, splits, ids = [], [], [], [], []
    dropped: Counter[str] = Counter()
    for index, (_, radio_map, segmentation, truth) in enumerate(loaded):
        split_image = block_split_image(radio_map.shape, blocks[index])
        splits_of = object_splits(
            np.asarray(truth["id"]), np.asarray(truth["x"]), np.asarray(truth["y"]), split_image
        )
        for row in truth:
            if str(row["class"]).strip() not in SOURCE_CLASSES:
                continue
            label = rgz_class(int(row["n_islands"]), int(row["n_peaks"]))
            reason = _labelled_reject(row, label, config.min_snr, visible)
            if reason:
                dropped[reason] += 1
                continue
            oid = int(row["id"])
            cx = (float(row["bbox_xmin"]) + float(row["bbox_xmax"]) - 1) / 2.0
            cy = (float(row["bbox_ymin"]) + float(row["bbox_ymax"]) - 1) / 2.0
            y0, x0 = centred_origin(cx, cy, cutout_pix)
            if not _inside(radio_map.shape, y0, x0, cutout_pix):
                dropped["at map edge"] += 1
                continue
            seg = _window(segmentation, y0, x0, cutout_pix)
            if cutout_leaks(seg, splits_of[oid], splits_of):
                dropped["holds an object of another split"] += 1
                continue
            pixels, valid = finite_or_zero(_window(radio_map.data, y0, x0, cutout_pix))
            if valid < min_valid_fraction:
                dropped["blanked"] += 1
                continue
            images.append(pixels)
            masks.append(seg == oid)
            labels.append(RGZ_CLASSES.index(str(label)))
            splits.append(splits_of[oid])
            ids.append(f"{radio_map.name}_{oid}")
    if not images:
        raise InputFileError(
            maps[0].truth_path if maps else Path("."),
            f"no object qualifies for the 6-class set (dropped: {dict(dropped)}); lower "
            "ssl.labelled.min_snr or simulate more radio galaxies",
        )
    label_array = np.asarray(labels)
    keep = _cap_per_class(label_array, config.max_per_class, np.random.default_rng(seed + 1))
    dropped["over max_per_class"] += int((~keep).sum())
    kept = np.flatnonzero(keep)
    meta: dict[str, Any] = {
        "maps": [str(e.map_path) for e in maps],
        "cutout_pix": cutout_pix,
        "pixel_scale_arcsec": loaded[0][1].pixel_scale_arcsec,
        "beam_arcsec": [loaded[0][1].beam.bmaj_arcsec, loaded[0][1].beam.bmin_arcsec],
        "min_snr": config.min_snr,
        "dropped": dict(dropped),
        "seed": seed,
        "label_definition": "components = 8-connected islands of the object's truth mask, "
        "peaks = local maxima of its noiseless model inside the mask (truth n_islands, n_peaks)",
    }
    out = CutoutSet(
        np.stack(images)[kept],
        label_array[kept],
        np.asarray(splits)[kept],
        [ids[i] for i in kept],
        list(RGZ_CLASSES),
        "labelled",
        meta,
        np.stack(masks)[kept],
    )
    log.info("6-class set: %d objects; dropped %s", len(out), dict(dropped))
    return out


def _labelled_reject(row: Any, label: str | None, min_snr: float, visible: int) -> str | None:
    """Why a truth row is not in the labelled set, or None."""
    if label is None:
        return "not one of the 6 classes"
    if not float(row["snr"]) >= min_snr:
        return "below min_snr"
    if int(row["bbox_xmin"]) < 0:
        return "no mask in the map"
    width = int(row["bbox_xmax"]) - int(row["bbox_xmin"])
    height = int(row["bbox_ymax"]) - int(row["bbox_ymin"])
    if max(width, height) > visible:
        return "larger than the visible cutout"
    return None


def read_survey_maps(paths: Sequence[Path], *, survey: str | None = None) -> list[RadioMap]:
    """Read maps with the one reader (``survey`` gives a beam to headers without one)."""
    return [read_map(path, survey=survey) for path in paths]


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Largest-remainder split of ``total`` in proportion to ``weights``."""
    w = np.asarray(weights, dtype=float)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: total - int(counts.sum())]:
        counts[i] += 1
    return [int(c) for c in counts]


def random_cutouts(
    maps: Sequence[RadioMap],
    n: int,
    *,
    cutout_pix: int,
    min_valid_fraction: float,
    seed: int,
    max_tries: int = 50,
) -> CutoutSet:
    """Cutouts at uniformly random positions of the maps, as they fall (mostly noise).

    Maps get cutouts in proportion to their finite area; a draw with too many blanked
    pixels is redrawn (up to ``max_tries`` times per cutout).
    """
    usable = [m for m in maps if m.shape[0] >= cutout_pix and m.shape[1] >= cutout_pix]
    if not usable:
        raise InputFileError(
            Path(maps[0].provenance.get("file", ".")) if maps else Path("."),
            f"no map is at least {cutout_pix} pixels on a side (ssl.cutout_pix)",
        )
    rng = np.random.default_rng(seed)
    areas = [float(np.isfinite(m.data).sum()) for m in usable]
    images, ids = [], []
    seen: Counter[str] = Counter()
    failed = 0
    for radio_map, count in zip(usable, _allocate(n, areas), strict=True):
        ny, nx = radio_map.shape
        for _ in range(count):
            for _ in range(max_tries):
                y0 = int(rng.integers(0, ny - cutout_pix + 1))
                x0 = int(rng.integers(0, nx - cutout_pix + 1))
                pixels, valid = finite_or_zero(_window(radio_map.data, y0, x0, cutout_pix))
                if valid >= min_valid_fraction:
                    break
            else:
                failed += 1
                continue
            name = f"{radio_map.name}_{x0}_{y0}"
            images.append(pixels)
            ids.append(f"{name}_{seen[name]}" if seen[name] else name)
            seen[name] += 1
    if not images:
        raise InputFileError(Path("."), "no random cutout has enough unblanked pixels")
    meta = {
        "maps": [m.name for m in usable],
        "cutout_pix": cutout_pix,
        "pixel_scale_arcsec": [m.pixel_scale_arcsec for m in usable],
        "seed": seed,
        "failed_draws": failed,
    }
    n_img = len(images)
    zeros = np.zeros(n_img, dtype=np.int8)
    return CutoutSet(np.stack(images), np.full(n_img, UNLABELLED), zeros, ids, [], "random", meta)


def curated_cutouts(
    maps: Sequence[RadioMap],
    catalogues: Sequence[Table | None],
    n_max: int,
    *,
    cutout_pix: int,
    min_snr: float,
    min_valid_fraction: float,
    seed: int,
) -> CutoutSet:
    """Source-centred cutouts: one per catalogue source with snr >= ``min_snr``.

    Parameters
    ----------
    maps
        The maps.
    catalogues
        Per map a catalogue with 0-based pixel ``x``, ``y`` (skysift truth or finder
        catalogue columns; ``snr`` and ``class`` used when present: class ``spurious`` is not a
        source), or None for a map that is itself a source-centred cutout (FIRST): its centre.
    n_max
        At most this many, a random subset when there are more.
    """
    rng = np.random.default_rng(seed)
    images, ids = [], []
    for radio_map, table in zip(maps, catalogues, strict=True):
        ny, nx = radio_map.shape
        if table is None:
            centres = [((nx - 1) / 2.0, (ny - 1) / 2.0, "c")]
        else:
            centres = []
            for row in table:
                if "class" in table.colnames and str(row["class"]).strip() == "spurious":
                    continue
                if "snr" in table.colnames and not float(row["snr"]) >= min_snr:
                    continue
                name = str(row["id"]) if "id" in table.colnames else str(len(centres))
                centres.append((float(row["x"]), float(row["y"]), name))
        for cx, cy, name in centres:
            y0, x0 = centred_origin(cx, cy, cutout_pix)
            if not _inside(radio_map.shape, y0, x0, cutout_pix):
                continue
            pixels, valid = finite_or_zero(_window(radio_map.data, y0, x0, cutout_pix))
            if valid >= min_valid_fraction:
                images.append(pixels)
                ids.append(f"{radio_map.name}_{name}")
    if not images:
        raise InputFileError(
            Path("."), f"no catalogue source with snr >= {min_snr} fits a cutout in its map"
        )
    index = np.arange(len(images))
    if index.size > n_max:
        index = np.sort(rng.choice(index, size=n_max, replace=False))
    meta = {
        "maps": [m.name for m in maps],
        "cutout_pix": cutout_pix,
        "min_snr": min_snr,
        "n_candidates": len(images),
        "seed": seed,
    }
    n_img = int(index.size)
    return CutoutSet(
        np.stack(images)[index],
        np.full(n_img, UNLABELLED),
        np.zeros(n_img, dtype=np.int8),
        [ids[i] for i in index],
        [],
        "curated",
        meta,
    )
