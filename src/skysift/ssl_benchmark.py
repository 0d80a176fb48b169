"""Downstream benchmark of one task: do SSL backbones beat ImageNet weights and scratch?

Reads:
  --dataset DIR          a labelled `skysift ssl-dataset` folder with train and test splits
                         (simulated RGZ 6 classes, MiraBest Confident, or a user's set)
  --backbone NAME=FILE   (repeat) SSL backbones from `skysift ssl-pretrain`, NAME like
                         ssl_random_simclr (strategy c) or ssl_curated_byol (strategy d)
  ssl.imagenet_weights   a local torchvision ImageNet state dict (strategy a), when set;
                         otherwise the strategy is reported as skipped
Settings: section `ssl` of --settings: protocols (knn, linear, finetune), label_fractions,
seeds, probe and finetune settings (cosine learning rate to zero at the last step), and the
preprocessing that must equal the backbones' own.

Writes into --out:
  results.csv               one row per strategy, protocol, label fraction and seed: accuracy,
                            macro-F1, recall per class, labels used (timings.csv: seconds)
  summary.csv, results.md   mean and std over seeds; the Markdown tables
  accuracy_vs_fraction.png  accuracy against label fraction, one panel per protocol
  confusion.png             confusion matrices at the largest fraction
  umap.png                  UMAP of the frozen test features of each strategy, by class
  classifier.pt             backbone + linear probe (all training labels) of the strategy with
                            the best linear-probe accuracy, for `skysift classify`
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.errors import ConfigError
from skysift.settings import load_section
from skysift.ssl.config import SSLConfig

log = logging.getLogger(__name__)


def _backbone_entry(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE, got {value!r}")
    return name, Path(path)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift ssl-benchmark``."""
    parser.add_argument("--dataset", required=True, type=Path, help="labelled ssl-dataset folder")
    parser.add_argument(
        "--backbone", action="append", default=[], type=_backbone_entry,
        help="NAME=FILE of an SSL backbone (repeat)",
    )  # fmt: skip
    parser.add_argument("--task", default=None, help="task name in the tables (default: folder)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def main(args: argparse.Namespace) -> None:
    """Run every strategy and protocol on the task and write tables and figures."""
    config = load_section(SSLConfig, "ssl", args.settings)
    names = [name for name, _ in args.backbone]
    if len(set(names)) != len(names) or {"imagenet", "scratch"} & set(names):
        raise ConfigError("--backbone", "names must be distinct and not imagenet/scratch")
    import torch

    from skysift.ssl.benchmark import run_task, strategies_from, write_outputs
    from skysift.ssl.datasets import load_cutout_set

    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_cutout_set(args.dataset)
    if not data.classes:
        raise ConfigError("--dataset", f"{args.dataset} is unlabelled; give a labelled set")
    task = args.task or args.dataset.name
    strategies = strategies_from(config, dict(args.backbone))
    result = run_task(config, task, data, strategies)
    title = {"sim6": "simulated RGZ 6 classes", "mirabest": "MiraBest Confident"}.get(task, task)
    info = write_outputs(result, config, data, strategies, args.out, task=task, title=title)
    log.info("%s: %d result rows; best linear probe: %s; tables in %s",
             task, info["n_rows"], info["best_strategy"], args.out / "results.md")  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.ssl_benchmark")
