"""Explain a morphology classifier: Integrated Gradients and Grad-CAM, checked against truth masks.

Reads:
  --model FILE     a `classifier.pt` from `skysift ssl-benchmark` (backbone + linear head,
                   classes, preprocessing)
  --dataset DIR    a labelled `ssl-dataset` folder with truth masks (the simulated 6-class set);
                   its test split is explained
Settings: section `ssl` of --settings (explain_per_class, explain_steps, seed).

Writes into --out:
  explain.json   fraction of the |IG| attribution inside the truth mask for the trained model,
                 for a randomly initialised model of the same architecture, and the mask's area
                 fraction (even spread), overall and per class
  explain.png    per class one test image: input and mask, |IG|, Grad-CAM, |IG| of the random model
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path
from skysift.settings import load_section
from skysift.ssl.config import SSLConfig

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift ssl-explain``."""
    parser.add_argument("--model", required=True, type=Path, help="classifier.pt")
    parser.add_argument("--dataset", required=True, type=Path, help="labelled set with masks")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def main(args: argparse.Namespace) -> None:
    """Attribute, measure the mask mass, plot."""
    config = load_section(SSLConfig, "ssl", args.settings)
    import numpy as np
    import torch
    from torch import nn

    from skysift.report.ssl_benchmark import plot_explanations
    from skysift.ssl.checkpoint import load_classifier, preprocess_of
    from skysift.ssl.datasets import load_cutout_set
    from skysift.ssl.explain import explain
    from skysift.ssl.models import build_backbone

    if args.threads:
        torch.set_num_threads(args.threads)
    backbone, head, meta = load_classifier(args.model)
    data = load_cutout_set(args.dataset)
    test = data.split("test")
    if test.masks is None or len(test) == 0:
        raise InputFileError(args.dataset, "needs a test split with truth masks (simulated set)")
    if list(meta["classes"]) != list(data.classes):
        raise InputFileError(args.model, f"classes {meta['classes']} differ from the dataset's")
    model = nn.Sequential(backbone, head)
    random_trunk, dim = build_backbone(
        meta["backbone"], int(meta["in_channels"]), seed=config.seed + 7
    )
    torch.manual_seed(config.seed + 7)
    random_model = nn.Sequential(random_trunk, nn.Linear(dim, len(data.classes)))
    result = explain(
        model, random_model, test.images, test.masks, test.labels, list(data.classes),
        preprocess_of(meta), per_class=config.explain_per_class, steps=config.explain_steps,
    )  # fmt: skip
    summary = {**result.summary, "model": str(args.model), "strategy": meta.get("strategy")}
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "explain.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    labels = test.labels[result.index]
    first = np.array([int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)])
    plot_explanations(
        result.inputs[first], result.masks[first], result.ig[first], result.cam[first],
        result.ig_random[first], [data.classes[c] for c in labels[first]], summary,
        args.out / "explain.png",
    )  # fmt: skip
    log.info("|IG| inside truth masks: trained %.2f, random model %.2f, mask area %.2f",
             summary["trained"], summary["random_model"], summary["mask_area"])  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.ssl_explain")
