"""Classify the morphology of any folder of images with a trained classifier.

Reads:
  --model FILE   a `classifier.pt` written by `skysift ssl-benchmark` (backbone + linear head,
                 classes, and the preprocessing it was trained with, applied here unchanged)
  IMAGES         a folder of FITS cutouts (Jy/beam) or PNG/JPEG images (any sizes), or an
                 `ssl-dataset` folder (cutouts.npz)
Writes:
  --out FILE     CSV: id, predicted class, then the probability of every class
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.io.atomic import atomic_path

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift classify``."""
    parser.add_argument("images", type=Path, help="folder of images/FITS or ssl-dataset folder")
    parser.add_argument("--model", required=True, type=Path, help="classifier.pt")
    parser.add_argument("--out", required=True, type=Path, help="predictions CSV")
    parser.add_argument("--batch-size", type=int, default=128, help="images per batch")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def main(args: argparse.Namespace) -> None:
    """Predict a class and class probabilities per image."""
    import torch

    from skysift.ssl.checkpoint import load_classifier, preprocess_of
    from skysift.ssl.external import model_inputs
    from skysift.ssl.finetune import extract_features

    if args.threads:
        torch.set_num_threads(args.threads)
    backbone, head, meta = load_classifier(args.model)
    classes = list(meta["classes"])
    ids, inputs = model_inputs(args.images, preprocess_of(meta))
    features = extract_features(
        backbone, inputs, batch_size=args.batch_size, device=torch.device("cpu")
    )
    with torch.no_grad():
        probabilities = torch.softmax(head(torch.from_numpy(features)), dim=1).numpy()
    with atomic_path(args.out) as tmp, tmp.open("w") as handle:
        handle.write("id,class," + ",".join(f"p_{c}" for c in classes) + "\n")
        for name, p in zip(ids, probabilities, strict=True):
            values = ",".join(f"{v:.5f}" for v in p)
            handle.write(f"{name},{classes[int(p.argmax())]},{values}\n")
    log.info("%d images classified into %s; %s", len(ids), classes, args.out)


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.classify")
