"""Whole-map prediction from end to end: tiles -> (MPI-shared) detection -> merge -> outputs.

Every rank opens the map lazily and loads the model; tile batches are shared by
:func:`skysift.predict.sharding.run_batches`; rank 0 merges the pieces, measures the catalogue
and writes the output folder atomically. The result never depends on the number of ranks: tiles
and batches are fixed by the map shape and settings, and rank 0 orders the pieces by tile.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from skysift import __version__
from skysift.errors import InputFileError, OutputExistsError
from skysift.io.atomic import atomic_dir
from skysift.io.catalogue import write_table
from skysift.predict.catalogue import build_catalogue
from skysift.predict.config import PredictConfig
from skysift.predict.inference import DetectorPredictor, Piece, TilePredictor, detect_batch
from skysift.predict.lazymap import LazyImage, LazyMap, open_image, open_map
from skysift.predict.merging import MergedObject, merge_pieces
from skysift.predict.regions import write_regions
from skysift.predict.segmentation import (
    subsampled_segmentation,
    write_object_masks,
    write_segmentation,
)
from skysift.predict.sharding import run_batches, size_of, wait_for_all
from skysift.predict.tiling import Tile, batches, make_tiles

log = logging.getLogger(__name__)

#: Files of the output folder.
OUTPUT_FILES: dict[str, str] = {
    "catalogue": "catalogue.fits",
    "catalogue_csv": "catalogue.csv",
    "regions": "regions.reg",
    "segmentation": "segmentation.fits",
    "object_masks": "object_masks.fits",
    "png": "outlines.png",
    "summary": "summary.json",
}


def load_predictor(
    model_path: str | Path,
    config: PredictConfig,
    *,
    dataset_dir: str | Path | None = None,
) -> DetectorPredictor:
    """Load a checkpoint as a tile predictor, refusing one of another preprocessing.

    With ``dataset_dir`` (a ``build-cutouts`` folder) the model must have been trained with
    that dataset's normalisation, classes, channels and cutout size (checked by
    :func:`skysift.detect.checkpoint.load_detector`). Without it the checkpoint must at least be
    self-consistent: its stored normalisation gives as many channels as the model takes.
    """
    import torch

    from skysift.data.config import NormalisationSpec
    from skysift.detect.checkpoint import load_detector, read_checkpoint
    from skysift.detect.dataset import read_dataset_info
    from skysift.detect.thresholds import class_thresholds

    expect: dict[str, Any] = {}
    if dataset_dir is not None:
        info = read_dataset_info(dataset_dir)
        expect = {
            "expect_normalisation": info.normalisation,
            "expect_classes": info.classes,
            "expect_in_channels": info.in_channels,
            "expect_size_pix": info.size_pix,
        }
    else:
        meta = read_checkpoint(model_path)["skysift"]
        try:
            spec = NormalisationSpec.model_validate(meta["normalisation"])
        except Exception as exc:
            raise InputFileError(model_path, f"stored normalisation is invalid ({exc})") from exc
        expect = {"expect_in_channels": len(spec.channels)}
    model, meta = load_detector(model_path, device=torch.device(config.device), **expect)
    return DetectorPredictor(
        model,
        meta,
        score_threshold=class_thresholds(meta, config.score_threshold),
        device=config.device,
        precision=config.precision,
        max_proposals=config.max_proposals,
        tile_pix=config.tile_pix,
    )


def _aux_image(map_path: Path, name: str, shape: tuple[int, int]) -> LazyImage | None:
    path = map_path.parent / name
    if not path.is_file():
        return None
    log.info("using %s", path)
    return open_image(path, shape=shape)


def write_outputs(
    out: Path,
    objects: list[MergedObject],
    lazy_map: LazyMap,
    classes: list[str],
    config: PredictConfig,
    summary: dict[str, Any],
) -> None:
    """Write catalogue (FITS + CSV), regions, segmentation, PNG and summary into ``out``."""
    start = time.perf_counter()
    map_path = lazy_map.path
    background = _aux_image(map_path, "background.fits", lazy_map.shape)
    rms = _aux_image(map_path, "rms.fits", lazy_map.shape)
    table = build_catalogue(objects, lazy_map, background=background, rms=rms)
    summary["background"] = None if background is None else str(background.path)
    summary["rms"] = None if rms is None else str(rms.path)
    for aux in (background, rms):
        if aux is not None:
            aux.close()
    write_table(table, out / OUTPUT_FILES["catalogue"], out / OUTPUT_FILES["catalogue_csv"])
    write_regions(out / OUTPUT_FILES["regions"], objects, classes)
    if config.write_masks:
        write_segmentation(
            out / OUTPUT_FILES["segmentation"],
            objects,
            lazy_map.shape,
            lazy_map.wcs,
            extra={"MAPNAME": lazy_map.name},
        )
    if config.write_object_masks:
        write_object_masks(
            out / OUTPUT_FILES["object_masks"],
            objects,
            lazy_map.wcs,
            extra={"MAPNAME": lazy_map.name},
        )
    if config.write_png:
        from skysift.report.quicklook import plot_map_with_outlines

        step = max(1, math.ceil(max(lazy_map.shape) / 2048))
        plot_map_with_outlines(
            out / OUTPUT_FILES["png"],
            lazy_map.image.subsampled(step),
            subsampled_segmentation(objects, lazy_map.shape, step),
            {i: o.label for i, o in enumerate(objects, start=1)},
            title=f"{lazy_map.name}: skysift predict-map, {len(objects)} objects"
            + (f" (every {step}th pixel shown)" if step > 1 else ""),
            classes=classes,
        )
    summary["write_s"] = round(time.perf_counter() - start, 3)
    (out / OUTPUT_FILES["summary"]).write_text(json.dumps(summary, indent=1) + "\n")


def predict_map(
    map_path: str | Path,
    out_dir: str | Path,
    *,
    predictor: TilePredictor,
    config: PredictConfig | None = None,
    overwrite: bool = False,
    comm: Any | None = None,
    progress: bool = True,
    extra_summary: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Predict a whole map and write the catalogue folder (on rank 0).

    Parameters
    ----------
    map_path
        FITS map of the *Map* contract (Jy/beam, celestial WCS, beam); ``background.fits`` and
        ``rms.fits`` beside it are used when present.
    out_dir
        Output folder (see :data:`OUTPUT_FILES`), written atomically by rank 0.
    predictor
        The model (:func:`load_predictor`) or any :class:`TilePredictor`.
    config
        Tiling, merging and output settings.
    overwrite
        Replace an existing ``out_dir``; otherwise it is an error before any work.
    comm
        mpi4py communicator shared by all ranks, or None (serial).
    progress
        tqdm bar on rank 0.
    extra_summary
        Entries added to ``summary.json`` (e.g. the model path).

    Returns
    -------
    dict or None
        The summary (rank 0), None on other ranks.

    Raises
    ------
    OutputExistsError, InputFileError, ConfigError
        Existing output, bad map, bad settings; nothing is written.
    """
    config = config or PredictConfig()
    map_path, out = Path(map_path), Path(out_dir)
    if out.exists() and not overwrite:
        raise OutputExistsError(out)
    lazy_map = open_map(map_path)
    try:
        return _run(lazy_map, out, predictor, config, overwrite, comm, progress, extra_summary)
    finally:
        lazy_map.close()


def _run(
    lazy_map: LazyMap,
    out: Path,
    predictor: TilePredictor,
    config: PredictConfig,
    overwrite: bool,
    comm: Any | None,
    progress: bool,
    extra_summary: dict[str, Any] | None,
) -> dict[str, Any] | None:
    size = int(predictor.size_pix)
    tiles = make_tiles(lazy_map.shape, size=size, overlap=config.overlap_pix)
    work_units = batches(len(tiles), config.batch_size)
    log.info(
        "%s: %dx%d px -> %d tiles of %d px (overlap %d px) in %d batches on %d rank(s)",
        lazy_map.name, lazy_map.shape[1], lazy_map.shape[0], len(tiles), size,
        config.overlap_pix, len(work_units), size_of(comm),
    )  # fmt: skip

    def work(index: int) -> tuple[list[Piece], int]:
        return detect_batch(
            lazy_map,
            [tiles[i] for i in work_units[index]],
            predictor,
            min_area_pix=config.min_area_pix,
        )

    start = time.perf_counter()
    results = run_batches(len(work_units), work, comm=comm, progress=progress)
    detect_s = time.perf_counter() - start
    if results is None:  # a worker rank: rank 0 merges and writes
        wait_for_all(comm)
        return None
    try:
        pieces = [piece for batch_pieces, _ in results for piece in batch_pieces]
        n_predicted = sum(n for _, n in results)
        if n_predicted == 0:
            raise InputFileError(lazy_map.path, "all pixels are NaN or blank: the map has no data")
        run_info = {
            "tiles": len(tiles),
            "tiles_predicted": n_predicted,
            "tiles_blank": len(tiles) - n_predicted,
            "ranks": size_of(comm),
            "detect_s": round(detect_s, 3),
            **(extra_summary or {}),
        }
        summary = _merge_and_write(
            lazy_map, out, tiles, pieces, predictor, config, overwrite, run_info
        )
    finally:
        wait_for_all(comm)
    return summary


def _merge_and_write(
    lazy_map: LazyMap,
    out: Path,
    tiles: list[Tile],
    pieces: list[Piece],
    predictor: TilePredictor,
    config: PredictConfig,
    overwrite: bool,
    run_info: dict[str, Any],
) -> dict[str, Any]:
    classes = list(predictor.classes)
    start = time.perf_counter()
    objects = merge_pieces(
        pieces,
        tiles,
        classes=classes,
        merge_iou=config.merge_iou,
        merge_containment=config.merge_containment,
    )
    merge_s = time.perf_counter() - start
    counts = Counter(o.label for o in objects)
    summary: dict[str, Any] = {
        "map": str(lazy_map.path),
        "map_name": lazy_map.name,
        "shape": list(lazy_map.shape),
        "tile_size_pix": int(predictor.size_pix),
        "pieces": len(pieces),
        "objects": len(objects),
        "per_class": {name: counts.get(name, 0) for name in classes},
        "merged_over_tiles": int(sum(o.n_tiles > 1 for o in objects)),
        "settings": config.model_dump(mode="json"),
        "precision": getattr(predictor, "precision", config.precision),
        "score_thresholds": getattr(predictor, "score_thresholds", config.score_threshold),
        "skysift_version": __version__,
        **run_info,
    }
    summary["merge_s"] = round(merge_s, 3)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_outputs(tmp, objects, lazy_map, classes, config, summary)
    log.info(
        "%s: %d objects (%s) -> %s",
        lazy_map.name, len(objects), ", ".join(f"{k} {v}" for k, v in counts.items()), out,
    )  # fmt: skip
    return summary
