"""Train the Mask R-CNN radio source detector on a COCO cutout set.

Reads:
  --dataset DIR   a `skysift build-cutouts` folder: dataset.json (classes, normalisation, size),
                  annotations/{train,val}.json, images/{train,val}/*.fits (raw Jy/beam)
  --extra-train DIR ...   optional sets whose train split joins the training images
                  (synthetic sources of `skysift sample-diffusion`; same normalisation and size)
  backbone weights, when settings detect.init is imagenet or ssl: the local state dict file
                  detect.weights_path (nothing is ever downloaded)
Settings: section `detect` of --settings (backbone, anchors, lean head sizes, optimizer, lr,
warmup_steps, schedule, max_steps, batch_size, grad_clip, amp, checkpoint_every, eval_every,
early_stopping_patience, class_balanced, augment, score_threshold, calibrate_thresholds, device,
seed).

Writes into --out:
  model.pt            best checkpoint on the val split (weights + model config, classes,
                      normalisation, size: prediction refuses data that differ; with
                      calibrate_thresholds the per-class score thresholds of best val F1,
                      which prediction applies)
  last.pt             full training state every checkpoint_every steps (and the best model so
                      far); a killed run started again with the same settings, data and --out
                      resumes from it; one of other settings or data is replaced by a fresh
                      run (logged; --no-resume always starts afresh)
  train_log.csv       losses per step and validation rows (per-class F1, completeness,
                      reliability at mask IoU 0.5, and the score threshold of each class)
  loss_curves.png     losses and validation score against step
  train_summary.json  steps, best score, final validation metrics, s/step
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.detect.config import DetectorConfig
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift train-detector``."""
    parser.add_argument("--dataset", required=True, type=Path, help="cutout dataset folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder of the model")
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument(
        "--classes",
        nargs="+",
        default=None,
        help="model classes in label order (default: the dataset's); annotated classes must "
        "be among them",
    )
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="continue from OUT/last.pt when it holds the same run: same settings (max_steps, "
        "eval_every, checkpoint_every, early stopping and device may change) and the same "
        "training data (default: yes; another run's last.pt is replaced)",
    )
    parser.add_argument("--max-steps", type=int, default=None, help="override detect.max_steps")
    parser.add_argument(
        "--device", default=None, choices=["auto", "cpu", "cuda"], help="override detect.device"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--extra-train",
        nargs="+",
        type=Path,
        default=[],
        metavar="DIR",
        help="more sets whose train split joins the training images (e.g. sample-diffusion "
        "output); same normalisation and cutout size",
    )


def main(args: argparse.Namespace) -> None:
    """Load the settings and train."""
    config = load_section(
        DetectorConfig, "detect", args.settings, max_steps=args.max_steps, device=args.device
    )
    import torch

    from skysift.detect.engine import train

    if args.threads:
        torch.set_num_threads(args.threads)
    summary = train(
        config,
        args.dataset,
        args.out,
        classes=args.classes,
        resume=args.resume,
        extra_train=args.extra_train,
    )
    log.info(
        "trained %d steps (%s); best validation score %s at step %s; model in %s",
        summary["steps"],
        summary["stop_reason"],
        summary["best_score"],
        summary["best_step"],
        args.out / "model.pt",
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.train_detector")
