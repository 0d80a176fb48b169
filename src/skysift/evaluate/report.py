"""Inputs and outputs of ``skysift evaluate-detector``: checked loading, tables, the run.

:func:`run_evaluation` is the library entry point behind the stage: read the dataset split and
the predictions, score them (:mod:`~skysift.evaluate.metrics`, :mod:`~skysift.evaluate.coco_eval`),
and write every output into a folder that appears only when complete.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skysift.data.coco import json_safe, validate_coco
from skysift.errors import InputFileError
from skysift.evaluate.config import EvaluationConfig
from skysift.io.atomic import atomic_dir

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("image_id", "category_id", "score", "segmentation")


def load_dataset_split(dataset: Path, split: str) -> tuple[dict[str, Any], list[str]]:
    """COCO ground truth of ``split`` and the class names (category-id order) of a dataset."""
    meta_path = dataset / "dataset.json"
    if not meta_path.is_file():
        raise InputFileError(
            meta_path, "dataset.json not found: is --dataset a build-cutouts folder?"
        )
    try:
        meta = json.loads(meta_path.read_text())
        classes = [c["name"] for c in sorted(meta["classes"], key=lambda c: c["id"])]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputFileError(meta_path, f"not a skysift dataset.json ({exc})") from exc
    ann_path = dataset / "annotations" / f"{split}.json"
    if not ann_path.is_file():
        raise InputFileError(ann_path, f"no annotations for split '{split}' (train, val or test?)")
    return validate_coco(ann_path, classes=classes), classes


def load_predictions(
    path: Path, gt: Mapping[str, Any], classes: Sequence[str]
) -> list[dict[str, Any]]:
    """Read and check a COCO results file against the ground truth it is scored on.

    Raises
    ------
    InputFileError
        Malformed JSON, not a list, a missing key, an unknown image id or category id, a
        score outside [0, 1] or a mask of the wrong size; the message names the entry.
    """
    if not path.is_file():
        raise InputFileError(path, "predictions file not found")
    try:
        predictions = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(predictions, list):
        raise InputFileError(path, "COCO results must be a JSON list of detections")
    sizes = {int(im["id"]): [int(im["height"]), int(im["width"])] for im in gt["images"]}
    for i, pred in enumerate(predictions):
        if not isinstance(pred, dict):
            raise InputFileError(path, f"entry {i} is not an object")
        missing = [k for k in REQUIRED_KEYS if k not in pred]
        if missing:
            raise InputFileError(path, f"entry {i} lacks {missing} (COCO results with RLE masks)")
        if pred["image_id"] not in sizes:
            raise InputFileError(
                path,
                f"entry {i} refers to image_id {pred['image_id']}, not in the split "
                "(predictions made on another split or dataset?)",
            )
        if not isinstance(pred["category_id"], int) or not 1 <= pred["category_id"] <= len(classes):
            raise InputFileError(
                path,
                f"entry {i} has category_id {pred['category_id']!r}; valid are "
                f"1..{len(classes)} ({', '.join(classes)})",
            )
        score = pred["score"]
        if not isinstance(score, int | float) or not 0.0 <= float(score) <= 1.0:
            raise InputFileError(
                path, f"entry {i} has score {score!r}, expected a number in [0, 1]"
            )
        seg = pred["segmentation"]
        if not isinstance(seg, dict) or "counts" not in seg or "size" not in seg:
            raise InputFileError(path, f"entry {i}: segmentation must be an RLE {{size, counts}}")
        if list(seg["size"]) != sizes[pred["image_id"]]:
            raise InputFileError(
                path,
                f"entry {i}: mask size {seg['size']} differs from image "
                f"{pred['image_id']} ({sizes[pred['image_id']]})",
            )
    return predictions


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows of dicts as CSV (NaN and None as empty cells)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["class"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(v) for k, v in row.items()})


def per_class_markdown(rows: Sequence[Mapping[str, Any]], maps: Mapping[str, Any]) -> str:
    """Markdown table in the form of the reference papers: C, R, F1 and F1 x 100 per class."""
    segm = maps.get("segm", {}).get("per_class", {})
    lines = [
        "| class | N true | N det | completeness | reliability | F1 | F1 x 100 | AP50 (segm) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def pct(value: Any) -> str:
        return (
            "-"
            if value is None or (isinstance(value, float) and math.isnan(value))
            else f"{value:.3f}"
        )

    for row in rows:
        f1x = row["f1_x100"]
        ap = segm.get(row["class"], {}).get("ap_50", float("nan"))
        lines.append(
            f"| {row['class']} | {row['n_true']} | {row['n_det']} | {pct(row['completeness'])} "
            f"| {pct(row['reliability'])} | {pct(row['f1'])} | "
            f"{'-' if math.isnan(f1x) else f'{f1x:.1f}'} | {pct(ap)} |"
        )
    return "\n".join(lines) + "\n"


def run_evaluation(
    *,
    dataset: Path,
    split: str,
    predictions_path: Path,
    out: Path,
    config: EvaluationConfig,
    overwrite: bool = False,
    figures: bool = True,
) -> dict[str, Any]:
    """Score ``predictions_path`` on ``dataset``/``split`` and write everything under ``out``.

    Writes ``metrics.json`` (all numbers, the config, inputs, version and git revision),
    ``per_class.csv``, ``per_class.md``, ``completeness_vs_snr.csv``,
    ``completeness_vs_size.csv``, ``confusion_matrix.csv``, ``compact_sources.csv`` and the
    figures ``completeness_reliability_vs_snr.png``, ``confusion_matrix.png``,
    ``flux_ratio_vs_snr.png``.

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    from skysift import __version__
    from skysift.data.cutouts import git_revision
    from skysift.evaluate import metrics as m
    from skysift.evaluate.coco_eval import coco_map
    from skysift.evaluate.pixels import read_cutout

    if out.exists() and not overwrite:
        from skysift.errors import OutputExistsError

        raise OutputExistsError(out)
    gt, classes = load_dataset_split(dataset, split)
    predictions = load_predictions(predictions_path, gt, classes)
    log.info(
        "%d images, %d truths, %d predictions",
        len(gt["images"]),
        len(gt["annotations"]),
        len(predictions),
    )
    cutouts = {}
    reader_log = logging.getLogger("skysift.io.fits_map")
    level = reader_log.level
    reader_log.setLevel(max(level, logging.WARNING))  # one INFO line per cutout is noise here
    try:
        for image in gt["images"]:
            path = dataset / image["file_name"]
            if not path.is_file():
                raise InputFileError(
                    path, f"cutout of image {image['id']} not found in the dataset"
                )
            cutouts[int(image["id"])] = read_cutout(path)
    finally:
        reader_log.setLevel(level)
    evaluation = m.evaluate_predictions(
        gt, predictions, classes=classes, config=config, cutouts=cutouts
    )
    result = m.summary(evaluation)
    result["coco"] = coco_map(gt, predictions, classes=classes)
    result["inputs"] = {
        "dataset": str(dataset),
        "split": split,
        "predictions": str(predictions_path),
        "truth_source": "coco",
    }
    result["skysift_version"] = __version__
    result["git_revision"] = git_revision()
    with atomic_dir(out, overwrite=overwrite) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(json_safe(result), indent=1, allow_nan=False))
        write_csv(tmp / "per_class.csv", result["per_class"])
        (tmp / "per_class.md").write_text(per_class_markdown(result["per_class"], result["coco"]))
        write_csv(tmp / "completeness_vs_snr.csv", result["completeness_vs_snr"])
        write_csv(tmp / "completeness_vs_size.csv", result["completeness_vs_size"])
        cm = result["confusion_matrix"]
        write_csv(
            tmp / "confusion_matrix.csv",
            [
                {"true class": r} | dict(zip(cm["columns"], row, strict=True))
                for r, row in zip(cm["rows"], cm["counts"], strict=True)
            ],
        )
        write_csv(tmp / "compact_sources.csv", result["compact_sources"])
        if figures:
            from skysift.evaluate import plots

            plots.plot_vs_snr(
                result["completeness_vs_snr"], classes, tmp / "completeness_reliability_vs_snr.png"
            )
            plots.plot_confusion(cm, tmp / "confusion_matrix.png")
            plots.plot_flux_ratio(result["compact_sources"], tmp / "flux_ratio_vs_snr.png")
    return result
