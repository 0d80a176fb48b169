"""Map-level catalogues -> COCO results on the cutouts of a dataset split.

Any finder that works on whole maps (PyBDSF, Aegean, later skysift's own whole-map prediction)
writes, per map, a catalogue with the truth columns (:data:`skysift.io.catalogue.TRUTH_COLUMNS`)
and a segmentation image (int32, pixel = catalogue ``id``, 0 = none). To be scored on exactly
the cutouts the detector is scored on, each such pair is cut like the truth was:

- for every image of the split (COCO images carry ``map``, ``x0``, ``y0``, ``width``,
  ``height``), the window ``segmentation[y0:y0+height, x0:x0+width]`` of its map is taken;
- every catalogue id present in the window with at least ``min_area_pix`` pixels becomes one
  COCO result: RLE mask of ``window == id``, ``bbox`` [x, y, w, h] of that mask, ``category_id``
  of the catalogue's class, ``score``, and the extra fields ``object_id`` (catalogue id),
  ``x``/``y`` (the catalogue position in 0-based cutout pixels; outside the cutout for an entry
  whose centre lies in a neighbouring cutout), ``int_flux`` (Jy) and ``peak_flux`` (Jy/beam)
  from the catalogue, ``truncated`` (the entry has mask pixels outside this cutout);
- ``min_area_pix`` defaults to the dataset's ``min_mask_area_pix``, the rule that kept
  truth pieces out of the annotations, so that finder and truth are cut the same way.

Scores: 1.0 for every entry, or from a catalogue column. Column values that all lie in [0, 1]
are used as they are; otherwise they are replaced by their rank mapped linearly onto [0.5, 1]
over all entries of all maps (lowest value 0.5, highest 1.0; NaN values get 0.5): the order,
which is all that COCO average precision uses, is kept, and every entry clears the default
``score_threshold`` of 0.5 of the evaluation (the finder's own threshold has already been
applied).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table

from skysift.data.coco import encode_mask, json_safe, mask_bbox
from skysift.errors import ConfigError, InputFileError
from skysift.io.atomic import atomic_path
from skysift.io.catalogue import read_truth

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinderMap:
    """One finder's output on one map, checked against the dataset.

    Attributes
    ----------
    name
        Map name as the dataset's COCO images spell it (``image["map"]``).
    rows
        Catalogue id -> row values (``class``, ``x``, ``y``, ``int_flux``, ... ; positions in
        0-based map pixels).
    segmentation
        int32, shape (ny, nx) of the map: catalogue id per pixel, 0 = none.
    scores
        Catalogue id -> score in [0, 1] (filled by :func:`assign_scores`).
    areas
        Shape (max id + 1,): pixels of each id in the whole map.
    catalogue_path, segmentation_path
        Where they were read from (for messages).
    """

    name: str
    rows: dict[int, dict[str, Any]]
    segmentation: np.ndarray
    catalogue_path: Path
    segmentation_path: Path
    scores: dict[int, float]
    areas: np.ndarray


def _read_segmentation(path: Path, shape: tuple[int, int] | None) -> np.ndarray:
    if not path.is_file():
        raise InputFileError(path, "segmentation image not found")
    try:
        data = np.asarray(fits.getdata(path))
    except (OSError, IndexError, TypeError) as exc:
        raise InputFileError(path, f"not a readable FITS image ({exc})") from exc
    if data.ndim > 2 and all(n == 1 for n in data.shape[:-2]):
        data = data.reshape(data.shape[-2:])
    if data.ndim != 2:
        raise InputFileError(path, f"segmentation must be a 2-D image, got shape {data.shape}")
    if shape is not None and data.shape != tuple(shape):
        raise InputFileError(
            path,
            f"segmentation shape {data.shape} differs from the dataset's map shape "
            f"{tuple(shape)}: was the finder run on another map?",
        )
    if not np.issubdtype(data.dtype, np.integer):
        finite = np.isfinite(data)
        if not finite.all() or np.any(data != np.round(data)):
            raise InputFileError(path, "segmentation must hold integer catalogue ids")
    if data.size and data.min() < 0:
        raise InputFileError(path, "segmentation holds negative ids (0 = none, >0 = catalogue id)")
    return data.astype(np.int32)


def read_finder_map(
    name: str,
    catalogue_path: str | Path,
    segmentation_path: str | Path,
    *,
    classes: Sequence[str],
    shape: tuple[int, int] | None = None,
) -> FinderMap:
    """Read and cross-check one map's catalogue and segmentation.

    Parameters
    ----------
    name
        Map name as in the dataset's COCO images.
    catalogue_path
        FITS or CSV table with the truth columns.
    segmentation_path
        int32 FITS image, pixel = catalogue id.
    classes
        Dataset classes; every catalogue class must be one of them.
    shape
        Expected (ny, nx) of the map (from ``dataset.json``), or None to skip the check.

    Raises
    ------
    InputFileError
        Unreadable files, a class not among ``classes``, duplicate ids, or segmentation ids
        without a catalogue row; the message names the file and the value.
    """
    catalogue_path, segmentation_path = Path(catalogue_path), Path(segmentation_path)
    table: Table = read_truth(catalogue_path)
    rows: dict[int, dict[str, Any]] = {}
    for row in table:
        oid = int(row["id"])
        cls = str(row["class"]).strip()
        if cls not in classes:
            raise InputFileError(
                catalogue_path,
                f"entry {oid} has class '{cls}', not among the dataset classes {list(classes)}",
            )
        if oid in rows:
            raise InputFileError(catalogue_path, f"id {oid} appears twice")
        rows[oid] = {col: row[col] for col in table.colnames} | {"class": cls}
    segmentation = _read_segmentation(segmentation_path, shape)
    present = {int(i) for i in np.unique(segmentation) if i != 0}
    orphans = sorted(present - set(rows))
    if orphans:
        raise InputFileError(
            segmentation_path,
            f"ids {orphans[:10]} have no row in {catalogue_path}: catalogue and segmentation "
            "must come from the same finder run",
        )
    without = len(set(rows) - present)
    if without:
        log.warning(
            "%s: %d of %d entries have no pixel in %s and cannot be scored",
            catalogue_path,
            without,
            len(rows),
            segmentation_path,
        )
    areas = np.bincount(segmentation.ravel())
    return FinderMap(name, rows, segmentation, catalogue_path, segmentation_path, {}, areas)


def rank_scores(values: np.ndarray) -> np.ndarray:
    """Scores in [0.5, 1] that keep the order of ``values`` (see the module docstring).

    Parameters
    ----------
    values
        Shape (N,), any real numbers; NaN counts as the lowest.

    Returns
    -------
    numpy.ndarray
        Shape (N,): 0.5 + 0.5 x (rank / (N - 1)), equal values sharing their mean rank;
        all 1.0 when N == 1.
    """
    values = np.asarray(values, dtype=float)
    n = values.size
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    filled = np.where(np.isfinite(values), values, -np.inf)
    order = np.argsort(filled, kind="stable")
    ranks = np.empty(n, dtype=float)
    ranks[order] = np.arange(n, dtype=float)
    for value in np.unique(filled):  # ties share their mean rank
        same = filled == value
        if same.sum() > 1:
            ranks[same] = ranks[same].mean()
    return 0.5 + 0.5 * ranks / (n - 1)


def assign_scores(maps: Sequence[FinderMap], column: str | None) -> None:
    """Fill ``scores`` of every map: 1.0, or from ``column`` (module docstring rules).

    Raises
    ------
    ConfigError
        If ``column`` is not a column of a catalogue (``--score-column``).
    """
    keys = [(m, oid) for m in maps for oid in m.rows]
    if column is None:
        for m, oid in keys:
            m.scores[oid] = 1.0
        return
    for m in maps:
        if m.rows and column not in next(iter(m.rows.values())):
            columns = list(next(iter(m.rows.values())))
            raise ConfigError(
                "--score-column",
                f"'{column}' is not a column of {m.catalogue_path} (columns: {columns})",
            )
    try:
        values = np.array([float(m.rows[oid][column]) for m, oid in keys], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ConfigError("--score-column", f"'{column}' is not numeric ({exc})") from exc
    finite = values[np.isfinite(values)]
    if finite.size == values.size and (
        finite.size == 0 or (finite.min() >= 0 and finite.max() <= 1)
    ):
        scores = values
    else:
        log.info("scores: rank of '%s' mapped onto [0.5, 1]", column)
        scores = rank_scores(values)
    for (m, oid), score in zip(keys, scores, strict=True):
        m.scores[oid] = float(score)


def _float(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def window_results(
    finder_map: FinderMap,
    image: Mapping[str, Any],
    *,
    classes: Sequence[str],
    min_area_pix: int = 1,
) -> list[dict[str, Any]]:
    """COCO results of the catalogue entries visible in one cutout.

    Parameters
    ----------
    finder_map
        The map's catalogue, segmentation and scores.
    image
        COCO image with ``id``, ``x0``, ``y0``, ``width``, ``height`` (pixels of the map).
    classes
        Dataset classes in category-id order (id = index + 1).
    min_area_pix
        Entries with fewer visible pixels in the cutout are left out.

    Returns
    -------
    list of dict
        One result per entry, by ascending catalogue id (fields in the module docstring).
    """
    x0, y0 = int(image["x0"]), int(image["y0"])
    height, width = int(image["height"]), int(image["width"])
    seg = finder_map.segmentation
    if x0 < 0 or y0 < 0 or y0 + height > seg.shape[0] or x0 + width > seg.shape[1]:
        raise InputFileError(
            finder_map.segmentation_path,
            f"cutout {image.get('file_name', image['id'])} ({x0}, {y0}, {width}x{height}) "
            f"lies outside the segmentation of shape {seg.shape}",
        )
    window = seg[y0 : y0 + height, x0 : x0 + width]
    ids, counts = np.unique(window, return_counts=True)
    total = {int(i): int(c) for i, c in zip(ids, counts, strict=True)}
    results = []
    for oid in (int(i) for i in ids if i != 0):
        if total[oid] < min_area_pix:
            continue
        mask = window == oid
        row = finder_map.rows[oid]
        results.append(
            json_safe(
                {
                    "image_id": int(image["id"]),
                    "category_id": classes.index(row["class"]) + 1,
                    "score": finder_map.scores.get(oid, 1.0),
                    "segmentation": encode_mask(mask),
                    "bbox": mask_bbox(mask),
                    "area": total[oid],
                    "object_id": oid,
                    "x": _float(row.get("x")) - x0,
                    "y": _float(row.get("y")) - y0,
                    "int_flux": _float(row.get("int_flux")),
                    "peak_flux": _float(row.get("peak_flux")),
                    "truncated": int(finder_map.areas[oid]) > total[oid],
                }
            )
        )
    return results


def catalogue_results(
    gt: Mapping[str, Any],
    maps: Sequence[FinderMap],
    *,
    classes: Sequence[str],
    min_area_pix: int = 1,
) -> list[dict[str, Any]]:
    """COCO results of map-level catalogues on every image of a COCO split.

    Parameters
    ----------
    gt
        COCO document of the split; its images carry ``map``, ``x0``, ``y0``, ``width``,
        ``height``.
    maps
        One :class:`FinderMap` per map (scores assigned).
    classes
        Dataset classes in category-id order.
    min_area_pix
        Minimum visible pixels of an entry in a cutout.

    Raises
    ------
    ConfigError
        If an image's map has no catalogue (``--map-name``), naming the map.
    """
    by_name = {m.name: m for m in maps}
    needed = sorted({str(im.get("map")) for im in gt["images"]})
    missing = [name for name in needed if name not in by_name]
    if missing:
        raise ConfigError(
            "--map-name",
            f"the split has cutouts of maps {missing} but no catalogue was given for them "
            f"(given: {sorted(by_name)}); add --map-name/--catalogue/--segmentation per map",
        )
    unused = sorted(set(by_name) - set(needed))
    if unused:
        log.warning("maps %s have no cutout in this split; their catalogues are not used", unused)
    results: list[dict[str, Any]] = []
    for image in gt["images"]:
        results += window_results(
            by_name[str(image["map"])], image, classes=classes, min_area_pix=min_area_pix
        )
    return results


def _dataset_meta(dataset: Path) -> dict[str, Any]:
    path = dataset / "dataset.json"
    if not path.is_file():
        raise InputFileError(path, "dataset.json not found: is --dataset a build-cutouts folder?")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON ({exc.msg})") from exc
    if not isinstance(meta, dict):
        raise InputFileError(path, "not a skysift dataset.json (expected an object)")
    return meta


def run_catalogue_to_coco(
    *,
    dataset: Path,
    split: str,
    entries: Sequence[tuple[str, Path, Path]],
    out: Path,
    score_column: str | None = None,
    min_area_pix: int | None = None,
    overwrite: bool = False,
) -> list[dict[str, Any]]:
    """Convert map catalogues to COCO results on ``dataset``/``split`` and write ``out``.

    Parameters
    ----------
    dataset
        A ``skysift build-cutouts`` folder.
    split
        Split whose cutouts are scored (``test``).
    entries
        ``(map name, catalogue path, segmentation path)`` per map.
    out
        COCO results JSON to write (atomically).
    score_column
        Catalogue column giving the scores, or None for 1.0.
    min_area_pix
        Minimum visible pixels; None = the dataset's ``min_mask_area_pix`` (1 if unknown).
    overwrite
        Replace an existing ``out``.

    Returns
    -------
    list of dict
        The results written.
    """
    from skysift.errors import OutputExistsError
    from skysift.evaluate.report import load_dataset_split

    if out.exists() and not overwrite:
        raise OutputExistsError(out)
    if not entries:
        raise ConfigError("--map-name", "give at least one --map-name/--catalogue/--segmentation")
    names = [name for name, _, _ in entries]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError("--map-name", f"maps {twice} are given twice")
    meta = _dataset_meta(dataset)
    gt, classes = load_dataset_split(dataset, split)
    shapes: dict[str, tuple[int, int]] = {
        str(m.get("name")): (int(m["shape"][0]), int(m["shape"][1]))
        for m in meta.get("maps", [])
        if isinstance(m, dict) and "shape" in m
    }
    known = {str(im.get("map")) for im in gt["images"]} | set(shapes)
    for name, _, _ in entries:
        if name not in known:
            raise ConfigError(
                "--map-name",
                f"'{name}' is not a map of {dataset} (maps: {sorted(known)})",
            )
    if min_area_pix is None:
        min_area_pix = int(meta.get("config", {}).get("min_mask_area_pix", 1))
    maps = [
        read_finder_map(name, cat, seg, classes=classes, shape=shapes.get(name))
        for name, cat, seg in entries
    ]
    assign_scores(maps, score_column)
    results = catalogue_results(gt, maps, classes=classes, min_area_pix=min_area_pix)
    log.info(
        "%d results on %d %s cutouts from %d catalogue entries of %d maps",
        len(results),
        len(gt["images"]),
        split,
        sum(len(m.rows) for m in maps),
        len(maps),
    )
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(results, allow_nan=False))
    return results
