"""Cut maps into a COCO training set: raw Jy/beam cutouts, RLE annotations, region splits.

:func:`build_dataset` is the engine of ``skysift build-cutouts``. For each map it reads the map
(Jy/beam), its segmentation (int32, pixel = object id, 0 = background) and its truth catalogue,
assigns sky-region blocks to splits (:mod:`skysift.data.split`), cuts every block into cutouts
of ``size_pix`` pixels and annotates every object whose mask touches a cutout. Outputs (layout in
:func:`build_dataset`) are written into a temporary folder that is renamed when complete.

Pixel coordinates are 0-based (y, x) throughout; cutout origins ``x0, y0`` are the map pixel of
the cutout's first column and row.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.table import Table
from tqdm import tqdm

from skysift import __version__
from skysift.data.coco import coco_document, encode_mask, json_safe, mask_bbox, write_coco
from skysift.data.config import SPLITS, CutoutConfig
from skysift.data.split import (
    Block,
    block_split_image,
    cutout_leaks,
    cutout_origins,
    make_blocks,
    object_splits,
)
from skysift.errors import InputFileError, OutputExistsError
from skysift.io.atomic import atomic_dir, atomic_path
from skysift.io.catalogue import read_truth
from skysift.io.fits_map import RadioMap, read_map

log = logging.getLogger(__name__)

#: Truth columns copied into every annotation (besides ``class``, ``x``, ``y``).
SCIENCE_COLUMNS: tuple[str, ...] = (
    "ra",
    "dec",
    "peak_flux",
    "int_flux",
    "snr",
    "n_islands",
    "n_components",
    "n_peaks",
    "las_arcsec",
)


@dataclass(frozen=True)
class MapInputs:
    """The three files that describe one map."""

    map_path: Path
    segmentation_path: Path
    truth_path: Path


@dataclass
class LoadedMap:
    """One map ready to be cut: pixels, segmentation, and per-object truth.

    Attributes
    ----------
    radio_map
        The map (Jy/beam).
    segmentation
        Shape (ny, nx), int32 object ids, 0 = background.
    truth
        Truth rows by object id (dicts of the truth columns, class already mapped).
    total_area
        Mask pixels of each object over the whole map.
    inputs
        Where it came from.
    """

    radio_map: RadioMap
    segmentation: np.ndarray
    truth: dict[int, dict[str, Any]]
    total_area: dict[int, int]
    inputs: MapInputs


def _read_map_for_cutouts(path: Path) -> RadioMap:
    """Read a map with the project's one reader; name = file name without FITS suffix.

    Characters other than letters, digits, ``.``, ``+`` and ``-`` become ``_`` in the name,
    which is used in cutout file names.
    """
    radio_map = read_map(path)
    radio_map.name = re.sub(r"[^A-Za-z0-9.+-]+", "_", radio_map.name)
    return radio_map


def read_segmentation(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """Read a segmentation FITS: integer object ids >= 0 on the map's pixel grid ``shape``."""
    try:
        data = fits.getdata(path)
    except (OSError, IndexError) as exc:
        raise InputFileError(path, f"not a readable FITS image ({exc})") from exc
    data = np.asarray(data)
    if data.ndim > 2 and all(n == 1 for n in data.shape[:-2]):
        data = data.reshape(data.shape[-2:])
    if data.shape != shape:
        raise InputFileError(
            path, f"segmentation shape {data.shape} differs from its map's shape {shape}"
        )
    if not np.issubdtype(data.dtype, np.integer) and (
        not np.all(np.isfinite(data)) or np.any(data != np.round(data))
    ):
        raise InputFileError(path, "segmentation must hold integer object ids")
    if data.min() < 0:
        raise InputFileError(path, "segmentation holds negative ids (0 = background, >0 = id)")
    return data.astype(np.int32)


def _truth_rows(
    table: Table, path: Path, classes: Sequence[str], class_map: dict[str, str]
) -> dict[int, dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for row in table:
        original = str(row["class"]).strip()
        name = class_map.get(original, original)
        if name not in classes:
            mapped = f" (mapped from '{original}')" if name != original else ""
            raise InputFileError(
                path,
                f"class '{name}'{mapped} is not among the configured classes {list(classes)}; "
                "add it to --classes or map it with cutouts.class_map",
            )
        values = {col: row[col] for col in table.colnames}
        values["class"] = name
        rows[int(row["id"])] = values
    return rows


def load_map(inputs: MapInputs, *, classes: Sequence[str], class_map: dict[str, str]) -> LoadedMap:
    """Read and cross-check one map, its segmentation and its truth catalogue."""
    radio_map = _read_map_for_cutouts(inputs.map_path)
    segmentation = read_segmentation(inputs.segmentation_path, radio_map.shape)
    truth = _truth_rows(read_truth(inputs.truth_path), inputs.truth_path, classes, class_map)
    ids, counts = np.unique(segmentation, return_counts=True)
    total_area = {int(i): int(c) for i, c in zip(ids, counts, strict=True) if i != 0}
    missing = sorted(set(total_area) - set(truth))
    if missing:
        raise InputFileError(
            inputs.truth_path,
            f"no truth rows for object ids {missing[:10]} of {inputs.segmentation_path}",
        )
    return LoadedMap(radio_map, segmentation, truth, total_area, inputs)


def _unique_names(loaded: Sequence[LoadedMap]) -> None:
    """Prefix the folder name where file names collide (``s1/map.fits`` -> ``s1_map``)."""
    stems = [lm.radio_map.name for lm in loaded]
    for lm in loaded:
        if stems.count(lm.radio_map.name) > 1:
            folder = re.sub(r"[^A-Za-z0-9.+-]+", "_", lm.inputs.map_path.resolve().parent.name)
            lm.radio_map.name = f"{folder}_{lm.radio_map.name}"
    names = [lm.radio_map.name for lm in loaded]
    for lm in loaded:
        if names.count(lm.radio_map.name) > 1:
            raise InputFileError(
                lm.inputs.map_path,
                f"map name '{lm.radio_map.name}' is used by two maps; rename one of the files",
            )


def cutout_annotations(
    window: np.ndarray,
    loaded: LoadedMap,
    *,
    x0: int,
    y0: int,
    classes: Sequence[str],
    config: CutoutConfig,
) -> list[dict[str, Any]]:
    """COCO annotations (without ``id``/``image_id``) of the objects touching one cutout.

    Parameters
    ----------
    window
        Segmentation inside the cutout, shape (size, size).
    loaded
        The map the cutout comes from.
    x0, y0
        Cutout origin in the map (0-based pixels).
    classes
        Class names in category-id order.
    config
        Minimum mask area and snr, and whether truncated objects are kept.

    Returns
    -------
    list of dict
        One per kept object, ordered by object id; ``x``/``y`` are the object's centre in
        cutout pixels, ``visible_fraction`` = visible mask pixels / all its mask pixels.
    """
    annotations = []
    for object_id in (int(i) for i in np.unique(window) if i != 0):
        mask = window == object_id
        area = int(mask.sum())
        total = loaded.total_area[object_id]
        truncated = area < total
        row = loaded.truth[object_id]
        if area < config.min_mask_area_pix or (truncated and not config.keep_truncated):
            continue
        min_snr = config.min_snr_by_class.get(row["class"], config.min_snr)
        if float(row["snr"]) < min_snr:  # NaN snr compares False: kept
            continue
        annotation: dict[str, Any] = {
            "category_id": classes.index(row["class"]) + 1,
            "segmentation": encode_mask(mask),
            "area": area,
            "bbox": mask_bbox(mask),
            "iscrowd": 0,
            "object_id": object_id,
            "class": row["class"],
            "x": float(row["x"]) - x0,
            "y": float(row["y"]) - y0,
        }
        annotation.update({col: row[col] for col in SCIENCE_COLUMNS})
        annotation.update(
            truncated=bool(truncated), visible_fraction=area / total, map=loaded.radio_map.name
        )
        annotations.append(json_safe(annotation))
    return annotations


def write_cutout(path: Path, radio_map: RadioMap, *, x0: int, y0: int, size: int) -> None:
    """Write the raw cutout (float32, Jy/beam) with its WCS and the beam keywords.

    ``CUTX0``/``CUTY0`` record the 0-based origin of the cutout in the map.
    """
    half = (size - 1) / 2.0
    cut = Cutout2D(
        radio_map.data, (x0 + half, y0 + half), (size, size), wcs=radio_map.wcs, mode="strict"
    )
    if cut.bbox_original != ((y0, y0 + size - 1), (x0, x0 + size - 1)):  # pragma: no cover
        raise RuntimeError(f"Cutout2D placed the cutout at {cut.bbox_original}, not ({y0}, {x0})")
    piece = RadioMap(
        data=np.asarray(cut.data, dtype=np.float32),
        wcs=cut.wcs,
        beam=radio_map.beam,
        name=radio_map.name,
        frequency_hz=radio_map.frequency_hz,
    )
    header = piece.to_header()
    header["CUTX0"] = (x0, "0-based x of the cutout origin in the map")
    header["CUTY0"] = (y0, "0-based y of the cutout origin in the map")
    fits.PrimaryHDU(data=piece.data, header=header).writeto(path)


def load_cutout(path: str | Path) -> np.ndarray:
    """Pixels of a cutout FITS, shape (H, W), float32 Jy/beam (NaN = blanked)."""
    path = Path(path)
    try:
        return np.asarray(fits.getdata(path), dtype=np.float32)
    except (OSError, IndexError) as exc:
        raise InputFileError(path, f"not a readable cutout FITS ({exc})") from exc


def git_revision() -> str | None:
    """``git rev-parse HEAD`` of the source tree, or None when unavailable."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


@dataclass
class _Planned:
    map_index: int
    split: int
    x0: int
    y0: int
    annotations: list[dict[str, Any]]


@dataclass
class _Plan:
    cutouts: list[_Planned] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=lambda: {"leakage": 0, "blank": 0, "empty": 0})


def _plan_map(
    m: int, loaded: LoadedMap, blocks: Sequence[Block], classes: Sequence[str], config: CutoutConfig
) -> _Plan:
    plan = _Plan()
    size = config.size_pix
    ids = list(loaded.truth)
    splits_of = object_splits(
        np.array(ids, dtype=np.int64),
        np.array([loaded.truth[i]["x"] for i in ids], dtype=float),
        np.array([loaded.truth[i]["y"] for i in ids], dtype=float),
        block_split_image(loaded.radio_map.shape, blocks),
    )
    origins = [(b, y0, x0) for b in blocks for y0, x0 in cutout_origins(b, size, config.stride)]
    for block, y0, x0 in tqdm(
        origins, desc=loaded.radio_map.name, unit="cutout", leave=False, disable=None
    ):
        pixels = loaded.radio_map.data[y0 : y0 + size, x0 : x0 + size]
        if np.isfinite(pixels).mean() < config.min_valid_fraction:
            plan.dropped["blank"] += 1
            continue
        window = loaded.segmentation[y0 : y0 + size, x0 : x0 + size]
        if cutout_leaks(window, block.split, splits_of):
            plan.dropped["leakage"] += 1
            continue
        anns = cutout_annotations(window, loaded, x0=x0, y0=y0, classes=classes, config=config)
        plan.cutouts.append(_Planned(m, block.split, x0, y0, anns))
    return plan


def _select_empty(plan: _Plan, fraction: float, seed: int) -> list[_Planned]:
    """Keep all cutouts with annotations and ``round(fraction * n)`` empty ones per split."""
    rng = np.random.default_rng([seed, 1])
    keep = [c for c in plan.cutouts if c.annotations]
    for split in range(len(SPLITS)):
        empty = [c for c in plan.cutouts if not c.annotations and c.split == split]
        n_keep = round(fraction * len(empty))
        chosen = set(rng.choice(len(empty), size=n_keep, replace=False).tolist())
        keep += [c for i, c in enumerate(empty) if i in chosen]
        plan.dropped["empty"] += len(empty) - n_keep
    return sorted(keep, key=lambda c: (c.map_index, c.y0, c.x0))


def build_dataset(
    inputs: Sequence[MapInputs],
    out_dir: str | Path,
    *,
    config: CutoutConfig,
    classes: Sequence[str],
    seed: int,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build the training set of ``inputs`` into ``out_dir``.

    Layout: ``images/{train,val,test}/<map>_<x0>_<y0>.fits`` (raw float32 Jy/beam with WCS and
    beam), ``annotations/{train,val,test}.json`` (COCO), ``dataset.json`` (classes, normalisation,
    sizes, maps, counts, dropped cutouts, seed, version, git revision) and
    ``class_balance.{csv,md,png}``. Nothing appears at ``out_dir`` unless all of it is written.

    Parameters
    ----------
    inputs
        Map, segmentation and truth files, one entry per map.
    out_dir
        Output folder.
    config
        Cutout settings.
    classes
        Class names in category-id order (id = index + 1).
    seed
        Seed of the split assignment and of the choice of kept empty cutouts.
    overwrite
        Replace an existing ``out_dir``.

    Returns
    -------
    dict
        The content of ``dataset.json``.
    """
    from skysift.report.class_balance import class_balance_rows, write_class_balance

    if Path(out_dir).exists() and not overwrite:
        raise OutputExistsError(out_dir)
    if not inputs:
        raise InputFileError(str(out_dir), "no maps given (pass --map/--segmentation/--truth)")
    classes = list(classes)
    loaded = [load_map(i, classes=classes, class_map=config.class_map) for i in inputs]
    _unique_names(loaded)
    blocks = make_blocks(
        [lm.radio_map.shape for lm in loaded],
        config.region_block_pix,
        config.split.as_tuple(),
        seed=seed,
    )
    plan = _Plan()
    for m, lm in enumerate(loaded):
        part = _plan_map(m, lm, blocks[m], classes, config)
        plan.cutouts += part.cutouts
        for key, value in part.dropped.items():
            plan.dropped[key] += value
    kept = _select_empty(plan, config.empty_fraction, seed)
    if plan.dropped["leakage"]:
        log.info("dropped %d cutouts that held objects of another split", plan.dropped["leakage"])

    documents: dict[str, dict[str, Any]] = {}
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        for split_index, split in enumerate(SPLITS):
            (tmp / "images" / split).mkdir(parents=True)
            images: list[dict[str, Any]] = []
            annotations: list[dict[str, Any]] = []
            for c in (c for c in kept if c.split == split_index):
                lm = loaded[c.map_index]
                file_name = f"images/{split}/{lm.radio_map.name}_{c.x0}_{c.y0}.fits"
                write_cutout(tmp / file_name, lm.radio_map, x0=c.x0, y0=c.y0, size=config.size_pix)
                image_id = len(images) + 1
                images.append(
                    {
                        "id": image_id,
                        "file_name": file_name,
                        "width": config.size_pix,
                        "height": config.size_pix,
                        "map": lm.radio_map.name,
                        "x0": c.x0,
                        "y0": c.y0,
                        "split": split,
                    }
                )
                for ann in c.annotations:
                    annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
            documents[split] = coco_document(
                images, annotations, classes, description=f"skysift {split} set"
            )
            write_coco(tmp / "annotations" / f"{split}.json", documents[split])
        rows = class_balance_rows(documents, classes)
        write_class_balance(rows, tmp / "class_balance", classes=classes)
        summary = _summary(loaded, blocks, documents, plan.dropped, config, classes, seed)
        with atomic_path(tmp / "dataset.json") as path:
            path.write_text(json.dumps(json_safe(summary), indent=1, allow_nan=False))
    return summary


def _summary(
    loaded: Sequence[LoadedMap],
    blocks: Sequence[Sequence[Block]],
    documents: dict[str, dict[str, Any]],
    dropped: dict[str, int],
    config: CutoutConfig,
    classes: Sequence[str],
    seed: int,
) -> dict[str, Any]:
    counts = {}
    for split, doc in documents.items():
        per_class = dict.fromkeys(classes, 0)
        for ann in doc["annotations"]:
            per_class[ann["class"]] += 1
        counts[split] = {
            "images": len(doc["images"]),
            "annotations": len(doc["annotations"]),
            "objects_per_class": per_class,
            "blocks": sum(b.split == SPLITS.index(split) for bl in blocks for b in bl),
        }
    return {
        "classes": [{"id": i + 1, "name": name} for i, name in enumerate(classes)],
        "normalisation": config.normalisation.model_dump(mode="json"),
        "size_pix": config.size_pix,
        "stride_pix": config.stride,
        "region_block_pix": config.region_block_pix,
        "pixel_unit": "Jy/beam",
        "maps": [
            {
                "name": lm.radio_map.name,
                "map": str(lm.inputs.map_path),
                "segmentation": str(lm.inputs.segmentation_path),
                "truth": str(lm.inputs.truth_path),
                "shape": list(lm.radio_map.shape),
                "beam_arcsec": [lm.radio_map.beam.bmaj_arcsec, lm.radio_map.beam.bmin_arcsec],
                "bpa_deg": lm.radio_map.beam.bpa_deg,
            }
            for lm in loaded
        ],
        "splits": list(SPLITS),
        "counts": counts,
        "dropped_cutouts": dict(dropped),
        "seed": seed,
        "config": config.model_dump(mode="json"),
        "skysift_version": __version__,
        "git_revision": git_revision(),
    }
