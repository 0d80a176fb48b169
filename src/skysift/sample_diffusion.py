"""Synthetic annotated sources pasted into the training cutouts (diffusion model or paste baseline).

Reads:
  --dataset DIR   the `build-cutouts` set the sources are pasted into (its train split) and whose
                  objects give the masks (diffusion.sample.mask_source: dataset)
  --model FILE    model.pt of `skysift train-diffusion` (not needed with generator: paste)
  --simulate-settings   the `simulate` section, for mask_source: simulator (fresh objects of
                  the simulator's morphology generator)
Settings: section `diffusion.sample` of --settings (generator diffusion|paste, mask_source
dataset|simulator, per_class counts, sources_per_cutout, margin_pix, mask_snr, seed).

Each source's emission (S/N) is scaled by the cutout's robust rms and added to a noise-only spot
(no mask pixel within margin_pix): the cutout's own noise stays untouched outside the new masks.

Writes --out (built in a temporary folder, renamed when complete), a one-split COCO set:
  images/train/<cutout>_syn.fits   modified cutouts (header SYNTHET = objects added)
  annotations/train.json           their real annotations plus the synthetic ones
                                   (synthetic: true, generator, negative object_id)
  dataset.json                     classes, normalisation, size (as the source set), counts,
                                   provenance (generator, model, mask source, seed)
  samples.png                      per class: real objects beside synthetic ones
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.diffusion.config import SampleConfig
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift sample-diffusion``."""
    parser.add_argument("--dataset", required=True, type=Path, help="cutout dataset folder")
    parser.add_argument("--model", type=Path, help="model.pt of train-diffusion")
    parser.add_argument("--out", required=True, type=Path, help="output folder (must not exist)")
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument("--simulate-settings", help="the `simulate` section (simulator masks)")
    parser.add_argument("--generator", choices=["diffusion", "paste"], default=None)
    parser.add_argument("--seed", type=int, default=None, help="override diffusion.sample.seed")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--overwrite", action="store_true", help="replace --out once complete")


def main(args: argparse.Namespace) -> None:
    """Draw the layouts, generate their emission, paste, write the set."""
    from skysift.diffusion.pipeline import sample_synthetic_set
    from skysift.errors import ConfigError
    from skysift.sky.config import SimulationConfig

    config = load_section(
        SampleConfig, "diffusion.sample", args.settings, generator=args.generator, seed=args.seed
    )
    if config.generator == "diffusion" and args.model is None:
        raise ConfigError("diffusion.sample.generator", "diffusion needs --model (or paste)")
    simulation = None
    if config.mask_source == "simulator":
        simulation = load_section(SimulationConfig, "simulate", args.simulate_settings)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    counts = sample_synthetic_set(
        config,
        args.dataset,
        args.out,
        model_path=args.model,
        simulation=simulation,
        overwrite=args.overwrite,
    )
    log.info(
        "%d synthetic objects %s in %d cutouts; set in %s",
        sum(counts["train"]["synthetic_per_class"].values()),
        counts["train"]["synthetic_per_class"],
        counts["train"]["images"],
        args.out,
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.sample_diffusion")
