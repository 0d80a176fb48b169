"""Predict objects over a whole map with a trained detector; write a catalogue folder.

The map is cut into tiles of the model's size (or predict.tile_pix) with an overlap
(predict.overlap_pix), each tile normalised exactly as the training cutouts were (the
checkpoint's spec), run through the model in batches, and detections of overlapping tiles are
merged into one object per source. Runs serially or sharded over MPI ranks with dynamic load
balancing:
  mpiexec -n 4 skysift predict-map MAP --model model.pt --out DIR
gives the same catalogue as a single process (same predict.threads per process).

Reads:
  MAP             FITS map in Jy/beam with a celestial WCS and BMAJ/BMIN (an `ingest-map` or
                  `simulate-sky` map.fits); background.fits and rms.fits beside it are used when
                  present (flux background, local rms); read window by window, never whole
  --model FILE    model.pt from `skysift train-detector`
  --dataset DIR   optional `build-cutouts` folder: refuse a model of another preprocessing
  --settings      section `predict` (inline JSON or YAML file)

Writes (folder --out, atomically; an existing folder is an error unless --overwrite):
  catalogue.fits, catalogue.csv   one row per object: id, class, score, ra, dec (deg ICRS),
                  x, y (0-based pix), peak_flux (Jy/beam), int_flux (Jy), n_islands, bbox,
                  las_arcsec, ... (the truth columns + score, n_tiles), units in the FITS header
  regions.reg     DS9 polygons of the mask outlines, coloured by class (image coordinates)
  segmentation.fits  int32 object id per pixel (0 = none), unless predict.write_masks is false
  object_masks.fits  with predict.write_object_masks: one mask HDU per object (its bounding
                  box, the map's WCS shifted to it)
  outlines.png    the map with class-coloured outlines
  summary.json    counts per class, tiles, ranks, timings and settings
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift predict-map``."""
    parser.add_argument("map", type=Path, help="FITS map (Jy/beam, WCS, beam)")
    parser.add_argument("--model", required=True, type=Path, help="trained model checkpoint")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder"
    )
    parser.add_argument(
        "--dataset", type=Path, default=None, help="training set the model must match"
    )
    parser.add_argument("--settings", default=None, help="predict settings: JSON or YAML file")
    parser.add_argument("--overlap", type=int, default=None, help="tile overlap in pixels")
    parser.add_argument("--batch-size", type=int, default=None, help="tiles per forward pass")
    parser.add_argument(
        "--tile", type=int, default=None, help="tile side in pixels (default: the model's)"
    )
    parser.add_argument(
        "--score-threshold",
        type=float,
        default=None,
        help="minimum detection score of every class (default: the model's per-class thresholds)",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ...")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process")
    parser.add_argument(
        "--precision", choices=("float32", "bfloat16"), default=None, help="model arithmetic"
    )
    parser.add_argument(
        "--max-proposals",
        type=int,
        default=None,
        help="RPN proposals per training-cutout area of a tile (default 50; speed/recall)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (log files of workflows)"
    )


def main(args: argparse.Namespace) -> None:
    """Run whole-map prediction (every MPI rank runs this)."""
    from skysift.errors import OutputExistsError
    from skysift.predict.config import PredictConfig
    from skysift.predict.lazymap import open_map
    from skysift.predict.sharding import abort_on_error, rank_of, world_comm
    from skysift.settings import load_section

    config = load_section(
        PredictConfig,
        "predict",
        args.settings,
        overlap_pix=args.overlap,
        batch_size=args.batch_size,
        tile_pix=args.tile,
        score_threshold=args.score_threshold,
        device=args.device,
        threads=args.threads,
        precision=args.precision,
        max_proposals=args.max_proposals,
    )
    if args.out.exists() and not args.overwrite:  # before MPI and torch: fail fast
        raise OutputExistsError(args.out)
    open_map(args.map).close()  # a bad map fails before the model is loaded
    comm = world_comm()
    with abort_on_error(comm):
        import torch

        from skysift.predict.pipeline import load_predictor, predict_map

        if config.threads is not None or comm is not None:
            torch.set_num_threads(config.threads or 1)
        predictor = load_predictor(args.model, config, dataset_dir=args.dataset)
        summary = predict_map(
            args.map,
            args.out,
            predictor=predictor,
            config=config,
            overwrite=args.overwrite,
            comm=comm,
            progress=not args.no_progress and rank_of(comm) == 0,
            extra_summary={"model": str(args.model)},
        )
    if summary is not None:
        log.info("per class: %s", summary["per_class"])


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.predict_map")
