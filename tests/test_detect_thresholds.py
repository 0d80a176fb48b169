"""Per-class score thresholds: calibration on validation and use in prediction, exact cases."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from skysift.data.config import ChannelSpec, NormalisationSpec
from skysift.detect import validate
from skysift.detect.thresholds import (
    THRESHOLD_GRID,
    calibrate,
    class_thresholds,
    f1_curve,
    label_thresholds,
    select_detections,
)
from skysift.predict.inference import DetectorPredictor

# One class: five detections, three of them matched, four truth objects.
SCORES = [0.9, 0.7, 0.35, 0.3, 0.1]
MATCHED = [True, False, True, True, False]


def test_f1_curve_exact() -> None:
    curve = dict(zip(THRESHOLD_GRID, f1_curve(SCORES, MATCHED, 4), strict=True))
    assert curve[0.05] == pytest.approx(6 / 9)  # all 5 kept, 3 true
    assert curve[0.1] == pytest.approx(6 / 9)  # inclusive: 0.1 >= 0.1
    assert curve[0.15] == pytest.approx(6 / 8) and curve[0.3] == pytest.approx(6 / 8)
    assert curve[0.35] == pytest.approx(4 / 7)
    assert curve[0.5] == pytest.approx(2 / 6)
    assert curve[0.9] == pytest.approx(2 / 5)
    assert curve[0.95] == 0.0


def test_calibrate_takes_the_middle_of_tied_thresholds() -> None:
    # F1 0.75 from 0.15 to 0.3: the upper middle of the four
    assert calibrate(SCORES, MATCHED, 4, default=0.5) == (0.25, pytest.approx(0.75))
    # one detection at 0.96 matched: F1 1 everywhere on the grid: 0.5, the 10th of 19
    assert calibrate([0.96], [True], 1, default=0.3) == (0.5, 1.0)


def test_calibrate_keeps_the_default_when_there_is_nothing_to_learn() -> None:
    # no truth of the class: its detections are all false, F1 of the default reported
    assert calibrate([0.9, 0.2], [False, False], 0, default=0.5) == (0.5, 0.0)
    # truth but nothing of it found at any threshold
    assert calibrate([0.9, 0.6], [False, False], 3, default=0.5) == (0.5, 0.0)
    assert calibrate([], [], 0, default=0.4) == (0.4, 1.0)


def test_class_thresholds_of_a_checkpoint() -> None:
    meta: dict[str, Any] = {"classes": ["a", "b"], "model_config": {"score_threshold": 0.5}}
    assert class_thresholds(meta) == {"a": 0.5, "b": 0.5}  # before calibration, or last.pt
    meta["score_thresholds"] = {"a": 0.25}
    assert class_thresholds(meta) == {"a": 0.25, "b": 0.5}
    assert class_thresholds(meta, override=0.1) == {"a": 0.1, "b": 0.1}
    cuts = label_thresholds({"a": 0.25, "b": 0.5}, ["a", "b"])
    assert cuts[0] == np.inf and cuts[1:].tolist() == [0.25, 0.5]


def square(y: int, x: int, size: int = 4) -> np.ndarray:
    mask = np.zeros((16, 16), dtype=bool)
    mask[y : y + size, x : x + size] = True
    return mask


class FakeValSet:
    """One image: two truths of class a, one of class b."""

    def __init__(self) -> None:
        self.classes = ["a", "b"]
        self.records = [SimpleNamespace(image_id=7)]
        self.masks = [square(0, 0), square(8, 8), square(0, 10)]
        self.labels = [1, 1, 2]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        target = {
            "masks": torch.from_numpy(np.stack(self.masks)).to(torch.uint8),
            "labels": torch.tensor(self.labels),
        }
        return torch.zeros(1, 16, 16), target


def fake_run_model(model: Any, dataset: Any, **kwargs: Any) -> Iterator[tuple[int, dict]]:
    """a: 0.9 and 0.85 on the a truths, 0.4 on the b truth (false); b: 0.3 on the b truth."""
    masks = np.stack([square(0, 0), square(8, 8), square(0, 10), square(0, 10)])
    boxes = torch.tensor([[0, 0, 4, 4], [8, 8, 12, 12], [10, 0, 14, 4], [10, 0, 14, 4]])
    labels = torch.tensor([1, 1, 1, 2])
    scores = torch.tensor([0.9, 0.85, 0.4, 0.3])
    cuts = np.full(3, kwargs["score_threshold"])
    nms = 0.5 if kwargs.get("one_per_place", True) else None  # as run_model does
    keep = select_detections(boxes.float(), labels, scores, cuts, nms).numpy()
    yield (
        7,
        {
            "boxes": boxes.numpy()[keep].astype(np.float32),
            "labels": labels.numpy()[keep],
            "scores": scores.numpy()[keep],
            "masks": masks[keep],
        },
    )


def validate_fake(
    monkeypatch: pytest.MonkeyPatch, calibrate_thresholds: bool
) -> tuple[dict[str, float], dict[str, float]]:
    """validation_metrics on FakeValSet with fake_run_model, threshold 0.5, nms 0.5."""
    monkeypatch.setattr(validate, "run_model", fake_run_model)
    return validate.validation_metrics(
        None,  # type: ignore[arg-type]
        FakeValSet(),  # type: ignore[arg-type]
        score_threshold=0.5,
        calibrate_thresholds=calibrate_thresholds,
        nms_iou=0.5,
    )


def test_validation_scores_each_class_at_its_calibrated_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    metrics, thresholds = validate_fake(monkeypatch, calibrate_thresholds=True)
    # a: F1 1 from 0.45 to 0.85 (nine grid points): the middle, 0.65, drops the false 0.4.
    # b: F1 1 from 0.05 to 0.3 (six): the upper middle, 0.2. The a detection at 0.4 on the same
    # box does not suppress b's 0.3, being below its own class's threshold (calibration sees
    # the detections before the cross-class rule)
    assert thresholds == {"a": 0.65, "b": 0.2}
    assert metrics["threshold_a"] == 0.65
    assert metrics["f1_a"] == 1.0 and metrics["f1_b"] == 1.0
    assert metrics["score"] == 1.0 and metrics["f1_any"] == 1.0


def test_validation_without_calibration_uses_one_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    metrics, thresholds = validate_fake(monkeypatch, calibrate_thresholds=False)
    assert thresholds == {"a": 0.5, "b": 0.5}
    assert metrics["f1_a"] == 1.0 and metrics["f1_b"] == 0.0  # b's 0.3 is below 0.5
    assert metrics["score"] == pytest.approx(0.5)
    assert metrics["f1_any"] == pytest.approx(4 / 5)  # 2 kept, both true; 3 truths


class FakeDetector(torch.nn.Module):
    """Fixed detections (labels, scores, boxes; every mask the same square), passed through
    ``roi_heads.postprocess_detections`` as torchvision's RoI heads do before the mask head."""

    def __init__(self, labels: list[int], scores: list[float], boxes: list[list[int]]) -> None:
        super().__init__()
        self.roi_heads = SimpleNamespace(
            score_thresh=0.05,
            detections_per_img=10,
            nms_thresh=0.5,
            postprocess_detections=self.postprocess,
        )
        self.labels, self.scores = torch.tensor(labels), torch.tensor(scores)
        self.boxes = torch.tensor(boxes, dtype=torch.float32)

    def postprocess(self, n_images: int) -> tuple[list[torch.Tensor], ...]:
        return [self.boxes] * n_images, [self.scores] * n_images, [self.labels] * n_images

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        outputs = []
        for boxes, scores, labels in zip(
            *self.roi_heads.postprocess_detections(len(images)), strict=True
        ):
            masks = torch.zeros(len(labels), 1, 16, 16)
            masks[:, :, 4:8, 4:8] = 1.0
            outputs.append({"boxes": boxes, "labels": labels, "scores": scores, "masks": masks})
        return outputs


META = {
    "classes": ["a", "b"],
    "size_pix": 16,
    "normalisation": NormalisationSpec(channels=[ChannelSpec(method="minmax")]).model_dump(
        mode="json"
    ),
}
TILE = np.random.default_rng(0).normal(size=(16, 16)).astype(np.float32)


def test_whole_map_predictor_applies_the_threshold_of_each_class() -> None:
    apart = [[0, 0, 4, 4], [6, 6, 10, 10], [12, 12, 16, 16]]
    model = FakeDetector([1, 2, 1], [0.6, 0.3, 0.3], apart)
    predictor = DetectorPredictor(model, META, score_threshold={"a": 0.5, "b": 0.25})
    (detections,) = predictor([TILE])
    assert detections.labels == ["a", "b"]  # a at 0.3 dropped, b at 0.3 kept
    assert detections.scores.tolist() == pytest.approx([0.6, 0.3])
    assert detections.masks.shape == (2, 16, 16) and detections.masks[:, 5, 5].all()
    # the model itself drops boxes just below the lowest threshold, none at or above it
    assert predictor.model.roi_heads.score_thresh == pytest.approx(0.25)
    assert predictor.model.roi_heads.score_thresh < 0.25
    one = DetectorPredictor(model, META, score_threshold=0.5)
    assert one([TILE])[0].labels == ["a"]


def test_one_proposal_under_two_classes_is_reported_once() -> None:
    # a and b on nearly the same box (IoU 0.9 > nms 0.5), both above their thresholds: the
    # higher score stays; a b box beside them (IoU 0) is another object
    boxes = [[0, 0, 10, 10], [0, 0, 10, 9], [10, 0, 14, 4]]
    model = FakeDetector([2, 1, 2], [0.45, 0.3, 0.3], boxes)
    predictor = DetectorPredictor(model, META, score_threshold={"a": 0.2, "b": 0.2})
    (detections,) = predictor([TILE])
    assert detections.labels == ["b", "b"]
    assert detections.scores.tolist() == pytest.approx([0.45, 0.3])


def test_real_model_selects_before_the_mask_head_with_the_same_result() -> None:
    import copy

    from skysift.detect.config import DetectorConfig
    from skysift.detect.model import build_detector

    torch.manual_seed(0)
    config = DetectorConfig(
        fpn_channels=32, mask_head_channels=16, mask_head_layers=1, box_head_dim=64,
        box_score_thresh=0.0, box_detections_per_img=100,
    )  # fmt: skip
    model = build_detector(config, num_classes=2, in_channels=1, image_size=64).eval()
    reference = copy.deepcopy(model)
    meta = META | {"size_pix": 64}
    tile = np.random.default_rng(1).normal(size=(64, 64)).astype(np.float32)
    image = torch.from_numpy(normalise_minmax(tile))
    with torch.inference_mode():
        (everything,) = reference([image])
    scores, labels = everything["scores"].numpy(), everything["labels"].numpy()
    # a high cut for a, a low one for b: a's boxes between the two pass torchvision's one cut
    cut_a = float(np.quantile(scores[labels == 1], 0.7))
    cut_b = float(np.quantile(scores[labels == 2], 0.3))
    assert cut_b < cut_a
    predictor = DetectorPredictor(model, meta, score_threshold={"a": cut_a, "b": cut_b})
    (got,) = predictor([tile])
    # reference: the unpatched model at the lowest cut, then the same selection afterwards
    reference.roi_heads.score_thresh = float(np.nextafter(np.float32(min(cut_a, cut_b)), 0))
    with torch.inference_mode():
        (raw,) = reference([image])
    keep = select_detections(
        raw["boxes"], raw["labels"], raw["scores"], predictor.label_cuts, predictor.nms_iou
    )
    assert 0 < len(keep) < len(raw["scores"])
    assert got.labels == [["a", "b"][int(k) - 1] for k in raw["labels"][keep]]
    assert got.scores.tolist() == pytest.approx(raw["scores"][keep].tolist())
    assert np.array_equal(got.masks, (raw["masks"][keep, 0] > 0.5).numpy())


def normalise_minmax(tile: np.ndarray) -> np.ndarray:
    from skysift.data.normalise import normalise

    return normalise(tile, NormalisationSpec(channels=[ChannelSpec(method="minmax")]))
