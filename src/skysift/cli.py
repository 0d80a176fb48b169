"""Command line of skysift: ``skysift <stage> ...``, one subcommand per workflow rule.

Each stage lives in its own module ``skysift.<stage_module>`` that provides

- ``build_parser(parser: argparse.ArgumentParser) -> None``: add the stage's arguments;
  the module docstring is the stage's ``--help`` text (what it reads and what it writes);
- ``main(args: argparse.Namespace) -> None``: run the stage.

Modules are imported lazily, so ``skysift simulate-sky`` never pays for importing torch. Library
errors (:class:`~skysift.errors.SkysiftError`) and unreadable files become one line on stderr and
exit status 1; only here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from skysift import __version__
from skysift.errors import SkysiftError

#: subcommand -> (module, one-line summary shown by ``skysift --help``)
STAGES: dict[str, tuple[str, str]] = {
    "simulate-sky": ("skysift.simulate_sky", "simulate a radio continuum map with exact truth"),
    "ingest-map": ("skysift.ingest_map", "read a survey FITS map; write map, background, rms"),
    "import-annotations": (
        "skysift.import_annotations",
        "turn a user catalogue or DS9 regions into truth + segmentation",
    ),
    "build-cutouts": ("skysift.build_cutouts", "cut maps into a COCO training set with splits"),
    "train-detector": (
        "skysift.train_detector",
        "train the Mask R-CNN detector on a COCO training set",
    ),
    "predict-cutouts": (
        "skysift.predict_cutouts",
        "run a trained detector on a split of cutouts (COCO results)",
    ),
    "evaluate-detector": (
        "skysift.evaluate_detector",
        "completeness, reliability, F1, mAP of detections vs truth",
    ),
    "predict-map": (
        "skysift.predict_map",
        "predict a whole map: tiles over MPI ranks, merged catalogue",
    ),
    "run-baseline": ("skysift.run_baseline", "run PyBDSF or Aegean on a map, as a catalogue"),
    "catalogue-to-coco": (
        "skysift.catalogue_to_coco",
        "cut a map-level finder catalogue into COCO results on a split",
    ),
    "compare-finders": (
        "skysift.compare_finders",
        "side-by-side table of finders: CSV, Markdown, figure",
    ),
    "plot-finders": (
        "skysift.plot_finders",
        "one map with each finder's outlines side by side (PNG)",
    ),
    "ssl-dataset": (
        "skysift.ssl_dataset",
        "SSL cutout sets: RGZ 6-class, random, curated, MiraBest, user folder",
    ),
    "ssl-pretrain": ("skysift.ssl_pretrain", "self-supervised pretraining (SimCLR, BYOL, DINO)"),
    "ssl-benchmark": (
        "skysift.ssl_benchmark",
        "kNN / linear / fine-tune benchmark of backbones on a labelled set",
    ),
    "ssl-explain": (
        "skysift.ssl_explain",
        "Integrated Gradients / Grad-CAM of a classifier vs truth masks",
    ),
    "embed": ("skysift.embed", "features of any folder of images with a trained backbone"),
    "classify": ("skysift.classify", "morphology classes of any folder of images"),
    "sed-synth": (
        "skysift.sed_synth",
        "synthetic stellar SEDs with catalogue-like photometry",
    ),
    "summarize-runtimes": (
        "skysift.summarize_runtimes",
        "table of run time per rule from a run's benchmark files",
    ),
    "train-diffusion": (
        "skysift.train_diffusion",
        "mask- or class-conditioned DDPM of radio source emission (diffusers)",
    ),
    "sample-diffusion": (
        "skysift.sample_diffusion",
        "synthetic annotated sources pasted into training cutouts (model or paste baseline)",
    ),
    "diffusion-quality": (
        "skysift.diffusion_quality",
        "mask obedience, flux/size distributions, noise level, Frechet distance of synthetic sets",
    ),
    "sed-embed": (
        "skysift.sed_embed",
        "masked autoencoder, PCA and UMAP embeddings of SEDs",
    ),
    "sed-cluster": (
        "skysift.sed_cluster",
        "HDBSCAN and BIC Gaussian mixtures on the embeddings, scored on known parameters",
    ),
    "sed-explain": (
        "skysift.sed_explain",
        "Integrated Gradients of cluster membership per band (captum)",
    ),
    "sed-classify": (
        "skysift.sed_classify",
        "assign a user's photometric catalogue to the SED clusters",
    ),
    "sed-validate": (
        "skysift.sed_validate",
        "score classified real stars against their labels and user baselines",
    ),
    "fetch-data": ("skysift.fetch_data", "download public data into a checksummed cache"),
    "config-schema": ("skysift.config_schema", "print the JSON schema of the project config"),
}

log = logging.getLogger("skysift")


def _load_stage(name: str) -> ModuleType:
    module_name, _ = STAGES[name]
    return importlib.import_module(module_name)


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (repeatable)"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors in the log"
    )


def build_stage_parser(name: str, module: ModuleType, prog: str) -> argparse.ArgumentParser:
    """Parser of one stage: its own arguments plus the common logging flags."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=module.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.build_parser(parser)
    _add_common(parser)
    return parser


def run_stage(name: str, argv: Sequence[str], prog: str | None = None) -> int:
    """Parse ``argv`` for stage ``name``, run it, and map errors to an exit status."""
    module = _load_stage(name)
    parser = build_stage_parser(name, module, prog or f"skysift {name}")
    args = parser.parse_args(list(argv))
    _configure_logging(-1 if args.quiet else args.verbose)
    try:
        module.main(args)
    except SkysiftError as exc:
        print(f"skysift {name}: error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        where = exc.filename if exc.filename is not None else ""
        print(f"skysift {name}: error: {where}: {exc.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"skysift {name}: interrupted", file=sys.stderr)
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``skysift`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    width = max(len(name) for name in STAGES)
    listing = "\n".join(f"  {name:<{width}}  {summary}" for name, (_, summary) in STAGES.items())
    top = argparse.ArgumentParser(
        prog="skysift",
        description="Stages of the skysift pipeline. `skysift <stage> --help` says what a stage "
        "reads and writes.",
        epilog=f"stages:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"skysift {__version__}")
    top.add_argument("stage", choices=sorted(STAGES), metavar="stage", help="stage to run")
    if not argv or argv[0] in ("-h", "--help", "--version"):
        top.parse_args(argv)
        return 0
    stage, rest = argv[0], argv[1:]
    if stage not in STAGES:
        top.parse_args([stage])  # prints the usage error naming the valid stages
    return run_stage(stage, rest)


def run_module(module_name: str) -> None:
    """Support ``python -m skysift.<stage_module>`` with the same behaviour as the subcommand."""
    for name, (module, _) in STAGES.items():
        if module == module_name:
            raise SystemExit(run_stage(name, sys.argv[1:], prog=f"python -m {module_name}"))
    raise SystemExit(f"{module_name} is not a skysift stage")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
