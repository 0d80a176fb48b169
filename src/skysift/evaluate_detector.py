"""Score detections on a split of cutouts: completeness, reliability, F1, confusion, mAP.

Reads:
  --dataset DIR      a `skysift build-cutouts` folder (dataset.json, annotations/<split>.json,
                     images/<split>/*.fits raw Jy/beam cutouts)
  --predictions F    COCO results JSON (image_id, category_id, score, RLE segmentation, bbox),
                     as written by `skysift predict-cutouts`; an empty list is allowed
                     (with --candidates: entries with "reported": false feed mAP only)
Settings: section `evaluate` of --settings (iou_threshold, score_threshold, score_thresholds,
min_snr, min_snr_by_class, snr_bins, size_bins_arcsec, island_min_fraction, match); flags
override them. Predictions of `predict-cutouts` are already cut at the model's own per-class
thresholds: count them all with --score-threshold 0.

Matching: detection <-> truth by mask IoU >= --iou (--match mask, default) or, for finders
without measured masks (--match position), by the truth mask containing the detection's x/y
(its mask centroid when it has none); greedy by score, each truth once, class-aware (per-class
scores) and class-agnostic (confusion matrix, "any class" row).
Truth objects below --min-snr are not counted (detections of them are neither true nor false).

Writes (the folder appears only when complete):
  OUT/metrics.json                  every number, the config, inputs, version, git revision
  OUT/per_class.csv, per_class.md   completeness, reliability, F1 (and F1 x 100) per class
  OUT/completeness_vs_snr.csv       completeness (truth S/N) and reliability (detection S/N)
  OUT/completeness_vs_size.csv      completeness per largest-angular-size bin
  OUT/confusion_matrix.csv          true class x predicted class (+ missed, + no truth)
  OUT/compact_sources.csv           flux ratio and position offset of matched compact sources
  OUT/*.png                         completeness/reliability vs S/N, confusion matrix, flux ratio
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from skysift.evaluate.config import EvaluationConfig
from skysift.settings import load_section

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift evaluate-detector``."""
    parser.add_argument("--dataset", required=True, type=Path, help="build-cutouts folder")
    parser.add_argument("--split", default="test", help="split to score (default test)")
    parser.add_argument("--predictions", required=True, type=Path, help="COCO results JSON")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--truth-source",
        choices=["coco"],
        default="coco",
        help="where the truth comes from: the split's COCO annotations (default)",
    )
    parser.add_argument("--iou", type=float, help="mask IoU threshold of a match (default 0.5)")
    parser.add_argument("--min-snr", type=float, help="truth S/N cut (default 5; diffuse 0)")
    parser.add_argument(
        "--score-threshold", type=float, help="minimum detection score counted (default 0.5)"
    )
    parser.add_argument(
        "--match",
        choices=["mask", "position"],
        help="match by mask IoU (default) or by position (finders without measured masks)",
    )
    parser.add_argument("--settings", help="YAML/JSON settings file or inline JSON")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def main(args: argparse.Namespace) -> None:
    """Load settings, score the predictions and write the outputs."""
    from skysift.evaluate.report import run_evaluation

    config = load_section(
        EvaluationConfig,
        "evaluate",
        args.settings,
        iou_threshold=args.iou,
        min_snr=args.min_snr,
        score_threshold=args.score_threshold,
        match=args.match,
    )
    result = run_evaluation(
        dataset=args.dataset,
        split=args.split,
        predictions_path=args.predictions,
        out=args.out,
        config=config,
        overwrite=args.overwrite,
        figures=not args.no_figures,
    )
    for row in result["per_class"]:
        log.info(
            "%-18s C=%.3f R=%.3f F1=%.3f (N=%d)",
            row["class"],
            row["completeness"],
            row["reliability"],
            row["f1"],
            row["n_true"],
        )
    log.info(
        "%s matching; mAP@0.5 (segm) = %.3f; outputs in %s",
        config.match,
        result["coco"]["segm"]["map_50"],
        args.out,
    )


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.evaluate_detector")
