"""Train the diffusion model of synthetic radio sources (mask- or class-conditioned DDPM).

Reads:
  --dataset DIR   a `skysift build-cutouts` folder (simulated or real cutouts, e.g. FIRST
                  images annotated with import-annotations): windows of diffusion.train.window_pix
                  centred on each object, the emission inside the masks in units of the cutout's
                  robust rms (the noise is not modelled), one mask channel per class
Settings: section `diffusion.train` of --settings (model: conditioning mask|class, window_pix,
UNet channels, schedules; classes, splits, max_steps, batch_size, lr, ema_decay,
checkpoint_every, device, seed).

Writes into --out:
  model.pt            EMA weights, model settings, classes, typical S/N per class
  last.pt             full training state every checkpoint_every steps; a killed run started
                      again with the same settings, data and --out resumes from it; one of
                      other settings or data is replaced by a fresh run (logged; --no-resume
                      always starts afresh)
  train_log.csv       loss and learning rate per step; loss_curve.png
  train_summary.json  steps, windows per class, first/final loss, s/step, parameters
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.diffusion.config import DiffusionTrainConfig
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift train-diffusion``."""
    parser.add_argument("--dataset", required=True, type=Path, help="cutout dataset folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder of the model")
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="continue from OUT/last.pt when it holds the same run: same settings (max_steps, "
        "checkpoint_every, log_every and device may change) and training data (default: yes; "
        "another run's last.pt is replaced)",
    )
    parser.add_argument("--max-steps", type=int, default=None, help="override max_steps")
    parser.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def main(args: argparse.Namespace) -> None:
    """Load the settings and train."""
    config = load_section(
        DiffusionTrainConfig,
        "diffusion.train",
        args.settings,
        max_steps=args.max_steps,
        device=args.device,
    )
    import torch

    from skysift.diffusion.train import train_diffusion

    if args.threads:
        torch.set_num_threads(args.threads)
    summary = train_diffusion(config, args.dataset, args.out, resume=args.resume)
    log.info(
        "trained %d steps on %d windows (loss %.4f -> %.4f, %.2f s/step); model in %s",
        summary["steps"],
        summary["windows"],
        summary["first_loss"],
        summary["final_loss_mean_last_10pct"],
        summary["s_per_step"],
        args.out / "model.pt",
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.train_diffusion")
