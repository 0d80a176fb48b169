"""Self-supervised pretraining of a ResNet trunk with SimCLR, BYOL or DINO (lightly).

Reads:
  --dataset DIR   an unlabelled (or labelled: labels unused) `skysift ssl-dataset` folder
Settings: section `ssl` of --settings: backbone, image_pix, crop_fraction, normalisation (the
one normaliser), views (radio augmentations: rotation, flips, crop with a sane minimum scale,
flux scaling, noise, random stretch per channel), pretrain (steps, batch, lr with warm-up and
cosine to zero, temperatures, momentum), device, seed.

Writes into --out:
  backbone.pt     the trunk's state dict with its config and normalisation spec; this file is
                  what `train-detector` loads with detect.init: ssl, detect.weights_path
  train_log.csv   loss, learning rate and images/s per step
  loss_curve.png  loss and learning rate against step
  summary.json    steps, first and final loss, images/s, wall time, device, git revision
  last.pt         full state every pretrain.checkpoint_every steps: a killed run started
                  again with the same settings and images resumes there; one of other
                  pretraining settings or images is replaced by a fresh run (logged;
                  --no-resume: always start afresh)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.settings import load_section
from skysift.ssl.config import SSLConfig

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift ssl-pretrain``."""
    parser.add_argument("--dataset", required=True, type=Path, help="ssl-dataset folder")
    parser.add_argument(
        "--method", required=True, choices=["simclr", "byol", "dino"], help="SSL method"
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument("--max-steps", type=int, default=None, help="override pretrain.max_steps")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--no-resume", action="store_true", help="ignore an existing last.pt in --out"
    )


def main(args: argparse.Namespace) -> None:
    """Load the set and pretrain."""
    config = load_section(SSLConfig, "ssl", args.settings)
    if args.max_steps is not None:
        config.pretrain.max_steps = args.max_steps
    import torch

    from skysift.ssl.datasets import load_cutout_set
    from skysift.ssl.pretrain import pretrain

    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_cutout_set(args.dataset)
    summary = pretrain(config, args.method, data, args.out, resume=not args.no_resume)
    log.info("backbone in %s (%.1f images/s)", args.out / "backbone.pt", summary["images_per_s"])


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.ssl_pretrain")
