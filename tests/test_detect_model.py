"""Detector model factory and backbone-weight loading (no download, local state dicts)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models import mobilenet_v3_large, resnet18

from skysift.detect.config import DetectorConfig
from skysift.detect.model import adapt_first_conv, build_detector, load_backbone_weights
from skysift.errors import ConfigError, InputFileError
from skysift.settings import load_section

SIZE = 64
LEAN = {
    "fpn_channels": 32,
    "mask_head_channels": 16,
    "mask_head_layers": 1,
    "box_head_dim": 64,
    "box_score_thresh": 0.0,
    "box_detections_per_img": 10,
}


def toy_target(channels: int) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    image = torch.zeros(channels, SIZE, SIZE)
    image[:, 20:30, 10:16] = 1.0
    mask = torch.zeros(1, SIZE, SIZE, dtype=torch.uint8)
    mask[0, 20:30, 10:16] = 1
    target = {
        "boxes": torch.tensor([[10.0, 20.0, 16.0, 30.0]]),
        "labels": torch.tensor([2]),
        "masks": mask,
    }
    return [image], [target]


@pytest.mark.parametrize("backbone", ["resnet18_fpn", "mobilenet_v3_fpn", "resnet50_fpn_v2"])
@pytest.mark.parametrize("channels", [1, 3])
def test_model_builds_trains_and_predicts_masks(backbone: str, channels: int) -> None:
    config = DetectorConfig(backbone=backbone, **LEAN)  # type: ignore[arg-type]
    model = build_detector(config, num_classes=5, in_channels=channels, image_size=SIZE)
    # five FPN levels, the finest at stride 4 (small compact sources survive)
    features = model.backbone(torch.rand(1, channels, SIZE, SIZE))
    assert [f.shape[-1] for f in features.values()] == [16, 8, 4, 2, 1]
    # no ImageNet normalisation, no resizing
    assert model.transform.image_mean == [0.0] * channels
    assert model.transform.image_std == [1.0] * channels
    assert model.transform.min_size == (SIZE,) and model.transform.max_size == SIZE
    images, targets = toy_target(channels)
    losses = model(images, targets)
    assert set(losses) == {
        "loss_classifier",
        "loss_box_reg",
        "loss_mask",
        "loss_objectness",
        "loss_rpn_box_reg",
    }
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.inference_mode():
        out = model(images)[0]
    n = out["boxes"].shape[0]
    assert n == config.box_detections_per_img  # score threshold 0: the cap is reached
    assert out["masks"].shape == (n, 1, SIZE, SIZE)
    assert float(out["masks"].min()) >= 0.0 and float(out["masks"].max()) <= 1.0
    assert int(out["labels"].min()) >= 1 and int(out["labels"].max()) <= 5


def test_same_seed_same_weights_and_trainable_layers() -> None:
    config = DetectorConfig(**LEAN)
    a = build_detector(config, num_classes=2, in_channels=1, image_size=SIZE)
    b = build_detector(config, num_classes=2, in_channels=1, image_size=SIZE)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    frozen = build_detector(
        config.model_copy(update={"trainable_layers": 3}),
        num_classes=2,
        in_channels=1,
        image_size=SIZE,
    )
    body = frozen.backbone.body
    assert not body.conv1.weight.requires_grad and not body.layer1[0].conv1.weight.requires_grad
    assert body.layer2[0].conv1.weight.requires_grad and body.layer4[0].conv1.weight.requires_grad


def test_resnet_weights_load_and_first_conv_adapts(tmp_path: Path) -> None:
    torch.manual_seed(123)
    reference = resnet18(weights=None)
    path = tmp_path / "resnet18_imagenet.pth"
    torch.save(reference.state_dict(), path)
    model = build_detector(
        DetectorConfig(**LEAN, norm="frozen"), num_classes=5, in_channels=1, image_size=SIZE
    )
    assert not torch.equal(
        model.backbone.body.layer3[1].conv2.weight, reference.layer3[1].conv2.weight
    )
    report = load_backbone_weights(model, path, kind="imagenet")
    body = model.backbone.body
    assert torch.equal(body.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    assert torch.equal(body.bn1.running_var, reference.bn1.running_var)
    assert report["adapted"] == ["conv1.weight"]
    # a grey image gives the same response as with the RGB filters on a grey RGB image
    expected = reference.conv1.weight.sum(dim=1, keepdim=True)
    assert torch.allclose(body.conv1.weight, expected, atol=1e-6)
    assert "fc.weight" in report["unexpected"] and report["missing"] == []
    assert len(report["loaded"]) == len(body.state_dict()) - 1


def test_ssl_state_dict_with_prefixes_and_three_channels(tmp_path: Path) -> None:
    torch.manual_seed(7)
    reference = resnet18(weights=None)
    wrapped = {"state_dict": {f"module.encoder.{k}": v for k, v in reference.state_dict().items()}}
    path = tmp_path / "ssl.pt"
    torch.save(wrapped, path)
    model = build_detector(
        DetectorConfig(**LEAN, norm="frozen"), num_classes=2, in_channels=3, image_size=SIZE
    )
    report = load_backbone_weights(model, path, kind="ssl")
    assert report["adapted"] == [] and report["missing"] == []
    assert torch.equal(model.backbone.body.conv1.weight, reference.conv1.weight)


def test_mobilenet_imagenet_state_dict(tmp_path: Path) -> None:
    torch.manual_seed(3)
    reference = mobilenet_v3_large(weights=None)
    path = tmp_path / "mnv3.pth"
    torch.save(reference.state_dict(), path)
    config = DetectorConfig(backbone="mobilenet_v3_fpn", norm="frozen", **LEAN)
    model = build_detector(config, num_classes=2, in_channels=2, image_size=SIZE)
    report = load_backbone_weights(model, path, kind="imagenet")
    body = model.backbone.body
    assert torch.equal(body["6"].block[0][0].weight, reference.features[6].block[0][0].weight)
    assert report["adapted"] == ["0.0.weight"]
    assert torch.allclose(body["0"][0].weight, adapt_first_conv(reference.features[0][0].weight, 2))
    assert any(k.startswith("classifier") for k in report["unexpected"])


@pytest.mark.parametrize("backbone", ["resnet18_fpn", "mobilenet_v3_fpn"])
def test_norm_auto_is_group_norm_from_scratch_and_frozen_when_pretrained(
    backbone: str, tmp_path: Path
) -> None:
    from torch import nn
    from torchvision.ops.misc import FrozenBatchNorm2d

    scratch = build_detector(
        DetectorConfig(backbone=backbone, **LEAN), num_classes=2, in_channels=1, image_size=SIZE
    )
    kinds = {type(m) for m in scratch.backbone.body.modules()}
    assert nn.GroupNorm in kinds and nn.BatchNorm2d not in kinds
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"")
    pretrained = build_detector(
        DetectorConfig(backbone=backbone, init="imagenet", weights_path=str(weights), **LEAN),
        num_classes=2,
        in_channels=1,
        image_size=SIZE,
    )
    kinds = {type(m) for m in pretrained.backbone.body.modules()}
    assert FrozenBatchNorm2d in kinds and nn.GroupNorm not in kinds
    with pytest.raises(ValueError, match="norm 'group'"):
        DetectorConfig(init="ssl", weights_path=str(weights), norm="group")


def test_backbone_weight_errors_name_the_file(tmp_path: Path) -> None:
    model = build_detector(DetectorConfig(**LEAN), num_classes=2, in_channels=1, image_size=SIZE)
    with pytest.raises(
        InputFileError, match=r"missing.pth: imagenet backbone weights file not found"
    ):
        load_backbone_weights(model, tmp_path / "missing.pth", kind="imagenet")
    foreign = tmp_path / "foreign.pth"
    torch.save({"encoder.block0.weight": torch.zeros(3)}, foreign)
    with pytest.raises(InputFileError, match=r"foreign.pth: no key matches"):
        load_backbone_weights(model, foreign, kind="ssl")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(InputFileError, match=r"garbage.pth: cannot read backbone weights"):
        load_backbone_weights(model, garbage, kind="imagenet")


def test_detector_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"'detect': .*needs weights_path"):
        load_section(DetectorConfig, "detect", '{"init": "imagenet"}')
    with pytest.raises(ConfigError, match=r"detect.backbone"):
        load_section(DetectorConfig, "detect", '{"backbone": "resnet34"}')
    with pytest.raises(ConfigError, match=r"one size per FPN level"):
        load_section(DetectorConfig, "detect", '{"anchor_sizes": [8, 16]}')
    with pytest.raises(ConfigError, match=r"'detect.augment'.*flux_scale"):
        load_section(DetectorConfig, "detect", '{"augment": {"flux_scale": [2, 1]}}')


def test_paper_config_detector_trains_and_predicts(repo_root: Path) -> None:
    """config/paper.yaml's detector (ResNet-50-FPN v2, 256-channel FPN, 4-layer mask head, its
    RPN and box budgets) on its 3-channel input: one training step and one prediction, so that a
    GPU run of the paper config does not stop on a setting the demo never builds."""
    config = load_section(DetectorConfig, "detect", str(repo_root / "config" / "paper.yaml"))
    assert config.backbone == "resnet50_fpn_v2" and config.mask_head_layers == 4
    model = build_detector(config, num_classes=5, in_channels=3, image_size=SIZE)
    assert model.roi_heads.detections_per_img == config.box_detections_per_img
    assert model.rpn._post_nms_top_n["training"] == config.rpn_post_nms_top_n_train
    images, targets = toy_target(3)
    losses = model(images, targets)
    total = sum(losses.values())
    assert isinstance(total, torch.Tensor) and torch.isfinite(total)
    total.backward()
    model.eval()
    with torch.inference_mode():
        out = model(images)[0]
    assert out["masks"].shape[1:] == (1, SIZE, SIZE)
    assert out["boxes"].shape[0] <= config.box_detections_per_img
