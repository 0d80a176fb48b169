"""Run a trained detector on one split of a cutout set; write COCO results JSON.

Reads:
  --model FILE    model.pt (or last.pt) from `skysift train-detector`; its stored normalisation,
                  classes, channels and cutout size must equal the dataset's, else it refuses
  --dataset DIR   a `skysift build-cutouts` folder (dataset.json, annotations/<split>.json,
                  images/<split>/*.fits)

Writes:
  --out FILE      JSON list of {"image_id", "category_id", "score", "segmentation" (RLE of the
                  mask probability > 0.5), "bbox" [x, y, w, h] pixels}: what pycocotools
                  COCO.loadRes accepts, with the dataset's category ids: what the model reports
                  (each class at its own score threshold, stored with the model, one detection
                  per place); with --candidates SCORE also the rest down to SCORE, and every
                  entry has "reported": true/false
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift predict-cutouts``."""
    parser.add_argument("--model", required=True, type=Path, help="trained model checkpoint")
    parser.add_argument("--dataset", required=True, type=Path, help="cutout dataset folder")
    parser.add_argument("--split", default="test", help="split to predict (default: test)")
    parser.add_argument("--out", required=True, type=Path, help="COCO results JSON to write")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass")
    parser.add_argument(
        "--score-threshold",
        type=float,
        default=None,
        help="minimum detection score of every class (default: the model's per-class "
        "thresholds, calibrated on the validation split)",
    )
    parser.add_argument(
        "--candidates",
        type=float,
        default=None,
        metavar="SCORE",
        help="also write the detections down to SCORE that the model does not report (for COCO "
        "mAP); every entry then carries reported: true/false (evaluate-detector counts the "
        "reported ones in completeness and reliability)",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def main(args: argparse.Namespace) -> None:
    """Predict and write the results."""
    import torch

    from skysift.detect.predict import predict_cutouts

    if args.threads:
        torch.set_num_threads(args.threads)
    summary = predict_cutouts(
        args.model,
        args.dataset,
        args.split,
        args.out,
        batch_size=args.batch_size,
        score_threshold=args.score_threshold,
        candidates=args.candidates,
        device=args.device,
    )
    log.info("per class: %s", summary["per_class"])


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.predict_cutouts")
