"""Features of any folder of images with a trained backbone (same preprocessing as training).

Reads:
  --model FILE   a `backbone.pt` (ssl-pretrain) or `classifier.pt` (ssl-benchmark); its stored
                 normalisation, crop and input size are applied, never different ones
  IMAGES         a folder of FITS cutouts (Jy/beam) or PNG/JPEG images (any sizes), or an
                 `ssl-dataset` folder (cutouts.npz)
Writes:
  --out FILE     .npz (default): ids (N,) str, features (N, D) float32, model (JSON of the
                 model's metadata); .csv: a row per image, id then D feature columns
Use the features for similarity search (cosine), clustering or your own probes.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from skysift.io.atomic import atomic_path

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift embed``."""
    parser.add_argument("images", type=Path, help="folder of images/FITS or ssl-dataset folder")
    parser.add_argument("--model", required=True, type=Path, help="backbone.pt or classifier.pt")
    parser.add_argument("--out", required=True, type=Path, help="features file (.npz or .csv)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per batch")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def write_features(
    path: Path, ids: list[str], features: np.ndarray, meta: dict[str, object]
) -> Path:
    """``.csv`` (id + one column per feature) or ``.npz`` (ids, features, model JSON)."""
    if path.suffix.lower() == ".csv":
        with atomic_path(path) as tmp, tmp.open("w") as handle:
            handle.write("id," + ",".join(f"f{i}" for i in range(features.shape[1])) + "\n")
            for name, row in zip(ids, features, strict=True):
                handle.write(name + "," + ",".join(f"{v:.7g}" for v in row) + "\n")
        return path
    if path.suffix.lower() != ".npz":
        path = path.with_name(path.name + ".npz")
    with atomic_path(path) as tmp:
        np.savez(tmp, ids=np.array(ids, dtype=str), features=features,
                 model=np.array(json.dumps(meta, default=str)))  # fmt: skip
    return path


def main(args: argparse.Namespace) -> None:
    """Load the model, preprocess the images as in training, write the features."""
    import torch

    from skysift.ssl.checkpoint import load_backbone, preprocess_of
    from skysift.ssl.external import model_inputs
    from skysift.ssl.finetune import extract_features

    if args.threads:
        torch.set_num_threads(args.threads)
    backbone, meta = load_backbone(args.model)
    ids, inputs = model_inputs(args.images, preprocess_of(meta))
    features = extract_features(
        backbone, inputs, batch_size=args.batch_size, device=torch.device("cpu")
    )
    out = write_features(
        args.out, ids, features, {k: v for k, v in meta.items() if k != "ssl_config"}
    )
    log.info("%d images -> %d features each, in %s", len(ids), features.shape[1], out)


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.embed")
