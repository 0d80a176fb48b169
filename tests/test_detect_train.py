"""Training loop (exact resume), checkpoints (refusal, corruption), predict-cutouts, CLI errors."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from pycocotools.coco import COCO

from skysift.cli import main as cli_main
from skysift.data.config import ChannelSpec, NormalisationSpec
from skysift.detect.checkpoint import load_detector, read_checkpoint
from skysift.detect.config import DetectorConfig
from skysift.detect.engine import lr_factor, train
from skysift.detect.predict import predict_cutouts
from skysift.detect.thresholds import THRESHOLD_GRID
from skysift.detect.toy import make_toy_dataset
from skysift.errors import ConfigError, InputFileError

TINY: dict[str, Any] = {
    "backbone": "resnet18_fpn",
    "fpn_channels": 32,
    "mask_head_channels": 16,
    "mask_head_layers": 1,
    "box_head_dim": 64,
    "rpn_pre_nms_top_n_train": 100,
    "rpn_post_nms_top_n_train": 50,
    "rpn_pre_nms_top_n_test": 50,
    "rpn_post_nms_top_n_test": 30,
    "rpn_batch_size_per_image": 64,
    "box_batch_size_per_image": 32,
    "box_detections_per_img": 10,
    "box_score_thresh": 0.0,
    "score_threshold": 0.0,
    "warmup_steps": 1,
    "max_steps": 4,
    "checkpoint_every": 2,
    "eval_every": 2,
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), size=48, images_per_split=(5, 2, 2))


@pytest.fixture(scope="module")
def trained(toy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 steps straight (reference of the resume test, model for predict tests)."""
    out = tmp_path_factory.mktemp("straight")
    train(DetectorConfig(**TINY), toy, out, resume=False, progress=False)
    return out


def test_outputs_of_a_training_run(trained: Path) -> None:
    for name in ("model.pt", "last.pt", "train_log.csv", "loss_curves.png", "train_summary.json"):
        assert (trained / name).is_file(), name
    summary = json.loads((trained / "train_summary.json").read_text())
    assert summary["steps"] == 4 and summary["stop_reason"] == "max_steps"
    assert summary["train_images"] == 5 and summary["val_images"] == 2
    with (trained / "train_log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows if r["loss"]] == [1, 2, 3, 4]
    assert [int(r["step"]) for r in rows if r["val_score"]] == [2, 4]
    assert all(float(r["loss"]) > 0 for r in rows if r["loss"])
    last = read_checkpoint(trained / "last.pt")
    assert last["step"] == 4 and last["epoch"] == 1  # 3 steps per epoch (5 images, batch 2)
    assert last["skysift"]["classes"] == ["compact", "extended"]
    assert last["skysift"]["in_channels"] == 1 and last["skysift"]["size_pix"] == 48
    best = read_checkpoint(trained / "model.pt")
    assert best["step"] == summary["best_step"] and "optimizer" not in best
    # the best model carries per-class thresholds calibrated on val (last.pt: the global one)
    thresholds = best["skysift"]["score_thresholds"]
    assert set(thresholds) == {"compact", "extended"}
    assert all(t in (*THRESHOLD_GRID, TINY["score_threshold"]) for t in thresholds.values())
    best_row = next(r for r in rows if r["val_score"] and int(r["step"]) == summary["best_step"])
    assert {name: float(best_row[f"val_threshold_{name}"]) for name in thresholds} == thresholds
    assert "score_thresholds" not in last["skysift"]


def test_resume_after_interruption_gives_identical_weights(
    toy: Path, trained: Path, tmp_path: Path
) -> None:
    config = DetectorConfig(**TINY)
    partial = train(config, toy, tmp_path, resume=False, stop_after=2, progress=False)
    assert partial == {"stopped_at": 2}
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 2
    train(config, toy, tmp_path, resume=True, progress=False)
    straight = read_checkpoint(trained / "last.pt")
    resumed = read_checkpoint(tmp_path / "last.pt")
    assert resumed["step"] == 4
    assert straight["model"].keys() == resumed["model"].keys()
    for key, value in straight["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    losses = [r["loss"] for r in straight["log"] if "loss" in r]
    assert losses == [r["loss"] for r in resumed["log"] if "loss" in r]


def test_a_last_pt_of_another_run_is_replaced_by_a_fresh_run(
    toy: Path, trained: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Resume only continues the same run: other settings or other training data (a workflow
    rerun after a config change) start afresh, never mix two models or resume stale data."""
    config = DetectorConfig(**TINY)
    other = config.model_copy(update={"box_head_dim": 48})
    train(other, toy, tmp_path, resume=False, stop_after=2, progress=False)
    with caplog.at_level("WARNING", logger="skysift.io.resume"):
        train(config, toy, tmp_path, progress=False)
    assert "other settings (box_head_dim)" in caplog.text
    fresh, straight = read_checkpoint(tmp_path / "last.pt"), read_checkpoint(trained / "last.pt")
    for key, value in straight["model"].items():
        assert torch.equal(value, fresh["model"][key]), key
    # same settings, other data: the set's validation annotations changed
    data = tmp_path / "data"
    shutil.copytree(toy, data)
    train(config, data, tmp_path / "run", resume=False, stop_after=2, progress=False)
    val = data / "annotations" / "val.json"
    coco = json.loads(val.read_text())
    coco["annotations"] = coco["annotations"][:-1]
    val.write_text(json.dumps(coco))
    caplog.clear()
    with caplog.at_level("WARNING", logger="skysift.io.resume"):
        train(config, data, tmp_path / "run", progress=False)
    assert "other training data" in caplog.text
    assert read_checkpoint(tmp_path / "run" / "last.pt")["step"] == 4
    # fewer steps than the saved state has done: a new, shorter run
    caplog.clear()
    with caplog.at_level("WARNING", logger="skysift.io.resume"):
        summary = train(config.model_copy(update={"max_steps": 2}), data, tmp_path / "run")
    assert "already at step 4, beyond max_steps 2" in caplog.text and summary["steps"] == 2


def test_a_resumed_run_ends_with_its_best_model_when_model_pt_was_deleted(
    toy: Path, trained: Path, tmp_path: Path
) -> None:
    """A workflow deletes a job's outputs (model.pt) before rerunning it; last.pt carries the
    best model, so resuming a finished (or killed) run still writes the best one."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "model.pt").unlink()
    summary = train(DetectorConfig(**TINY), toy, run, progress=False)
    assert summary["steps"] == 4 and summary["seconds_per_step"] is None  # nothing left to do
    best, reference = read_checkpoint(run / "model.pt"), read_checkpoint(trained / "model.pt")
    assert best["step"] == reference["step"] == summary["best_step"]
    assert best["skysift"] == reference["skysift"] and "score_thresholds" in best["skysift"]
    for key, value in reference["model"].items():
        assert torch.equal(value, best["model"][key]), key


def test_predict_cutouts_writes_coco_results(toy: Path, trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "predictions.json"
    status = cli_main(
        [
            "predict-cutouts",
            "--model",
            str(trained / "model.pt"),
            "--dataset",
            str(toy),
            "--split",
            "test",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert status == 0
    results = json.loads(out.read_text())
    thresholds = read_checkpoint(trained / "model.pt")["skysift"]["score_thresholds"]
    cuts = {1: thresholds["compact"], 2: thresholds["extended"]}
    assert all(r["score"] >= cuts[r["category_id"]] for r in results)  # the model's own
    truth = COCO(str(toy / "annotations" / "test.json"))
    loaded = truth.loadRes(str(out))
    assert len(loaded.anns) == len(results)
    assert {r["image_id"] for r in results} == set(truth.getImgIds())
    for r in results:
        assert r["category_id"] in (1, 2) and 0.0 <= r["score"] <= 1.0
        assert r["segmentation"]["size"] == [48, 48] and len(r["bbox"]) == 4
        x, y, w, h = r["bbox"]
        assert x >= 0 and y >= 0 and w >= 0 and h >= 0 and x + w <= 48.001 and y + h <= 48.001


def test_predict_cutouts_applies_the_threshold_of_each_class(
    toy: Path, trained: Path, tmp_path: Path
) -> None:
    state = read_checkpoint(trained / "model.pt")
    state["skysift"]["score_thresholds"] = {"compact": 0.0, "extended": 1.0}
    torch.save(state, tmp_path / "model.pt")
    everything = predict_cutouts(
        trained / "model.pt", toy, "test", tmp_path / "all.json", score_threshold=0.0
    )
    assert everything["detections"] == 2 * TINY["box_detections_per_img"]  # the cap per image
    only_compact = predict_cutouts(tmp_path / "model.pt", toy, "test", tmp_path / "cmp.json")
    assert only_compact["score_thresholds"] == {"compact": 0.0, "extended": 1.0}
    assert only_compact["per_class"]["extended"] == 0  # no score reaches 1
    assert only_compact["per_class"]["compact"] >= everything["per_class"]["compact"] >= 1
    # --candidates: the rest down to the score too, flagged; counts are of the reported ones
    flagged = predict_cutouts(
        tmp_path / "model.pt", toy, "test", tmp_path / "cand.json", candidates=0.0
    )
    assert flagged["per_class"] == only_compact["per_class"]
    results = json.loads((tmp_path / "cand.json").read_text())
    assert len(results) == 2 * TINY["box_detections_per_img"]  # everything the model gives
    assert not any(r["reported"] for r in results if r["category_id"] == 2)
    reported = [r for r in results if r["reported"]]
    assert len(reported) == flagged["per_class"]["compact"]
    assert {json.dumps(r, sort_keys=True) for r in reported} == {
        json.dumps(r | {"reported": True}, sort_keys=True)
        for r in json.loads((tmp_path / "cmp.json").read_text())
    }  # the reported ones are exactly what predict-cutouts writes by default


def test_mismatched_dataset_is_refused(trained: Path, tmp_path: Path, capsys: Any) -> None:
    spec = NormalisationSpec(channels=[ChannelSpec(method="asinh")])
    other = make_toy_dataset(
        tmp_path / "asinh", size=48, images_per_split=(1, 1, 1), normalisation=spec
    )
    out = tmp_path / "predictions.json"
    status = cli_main(
        [
            "predict-cutouts",
            "--model",
            str(trained / "model.pt"),
            "--dataset",
            str(other),
            "--out",
            str(out),
            "-q",
        ]
    )
    assert status == 1 and not out.exists()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "config key 'normalisation'" in err and "'method': 'zscale'" in err
    with pytest.raises(ConfigError, match=r"'classes'.*'compact', 'extended'"):
        load_detector(trained / "model.pt", expect_classes=["compact", "diffuse"])
    with pytest.raises(ConfigError, match=r"'size_pix'"):
        load_detector(trained / "model.pt", expect_size_pix=64)
    with pytest.raises(ConfigError, match=r"'in_channels'"):
        load_detector(trained / "model.pt", expect_in_channels=3)
    model, meta = load_detector(trained / "model.pt", expect_classes=["compact", "extended"])
    assert not model.training and meta["size_pix"] == 48


def test_corrupt_checkpoint_is_an_input_file_error(
    trained: Path, tmp_path: Path, capsys: Any
) -> None:
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((trained / "model.pt").read_bytes()[:5000])
    with pytest.raises(InputFileError, match=r"truncated.pt: not a readable torch file"):
        load_detector(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(InputFileError, match=r"foreign.pt: not a skysift detector checkpoint"):
        load_detector(foreign)
    with pytest.raises(InputFileError, match=r"absent.pt: model checkpoint not found"):
        load_detector(tmp_path / "absent.pt")
    out = tmp_path / "p.json"
    status = cli_main(
        [
            "predict-cutouts",
            "--model",
            str(truncated),
            "--dataset",
            str(trained),
            "--out",
            str(out),
            "-q",
        ]
    )
    assert status == 1 and not out.exists()
    err = capsys.readouterr().err
    assert err.startswith("skysift predict-cutouts: error:") and len(err.splitlines()) == 1


def test_empty_dataset_and_unknown_class_errors(tmp_path: Path, capsys: Any) -> None:
    empty = make_toy_dataset(tmp_path / "empty", size=32, images_per_split=(0, 1, 1))
    out = tmp_path / "model"
    assert cli_main(["train-detector", "--dataset", str(empty), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "train.json: no training images in the train split" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    toy = make_toy_dataset(tmp_path / "toy", size=32, images_per_split=(2, 1, 0))
    status = cli_main(
        [
            "train-detector",
            "--dataset",
            str(toy),
            "--out",
            str(out),
            "--classes",
            "compact",
            "diffuse",
            "-q",
        ]
    )
    assert status == 1 and not out.exists()
    assert "class 'extended' in" in capsys.readouterr().err


def test_learning_rate_schedule() -> None:
    config = DetectorConfig(warmup_steps=10, max_steps=110, schedule="cosine")
    assert lr_factor(0, config) == pytest.approx(0.01)
    assert lr_factor(10, config) == pytest.approx(1.0)
    assert lr_factor(60, config) == pytest.approx(0.505)
    assert lr_factor(110, config) == pytest.approx(0.01)
    step = config.model_copy(update={"schedule": "step", "step_milestones": (0.5, 0.9)})
    assert [lr_factor(s, step) for s in (20, 55, 98, 99)] == pytest.approx([1, 0.1, 0.1, 0.01])
