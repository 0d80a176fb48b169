"""Model factory: torchvision Mask R-CNN with a ResNet-50-FPN v2, ResNet-18-FPN or MobileNetV3-FPN.

All backbones give five FPN levels with strides 4, 8, 16, 32 and 64 pixels, so small compact
sources keep a fine (stride-4) level; the MobileNetV3 trunk is tapped at the end of its stride-4,
8, 16 and 32 stages (torchvision's own ``mobilenet_backbone`` keeps only stride-32 levels).
Nothing is ever downloaded (``weights=None`` everywhere); backbone weights come from a local file
through :func:`load_backbone_weights`. Inputs are already in [0, 1] (our normaliser), so the
model's own normalisation is the identity (mean 0, std 1 per channel) and its resizing is off
(``min_size = max_size = image_size``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torchvision.models import mobilenet_v3_large, resnet18, resnet50
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import (
    FastRCNNConvFCHead,
    FastRCNNPredictor,
    TwoMLPHead,
)
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import FrozenBatchNorm2d

from skysift.data.config import NormalisationSpec
from skysift.detect.config import DetectorConfig
from skysift.errors import InputFileError

log = logging.getLogger(__name__)

#: MobileNetV3-Large feature blocks that end the stride-4, 8, 16 and 32 stages, and their widths.
MOBILENET_TAPS: dict[str, int] = {"3": 24, "6": 40, "12": 112, "16": 960}


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups that divide ``channels`` (MobileNet has 16, 24, 40 ...)."""
    return nn.GroupNorm(math.gcd(channels, 32), channels)


def _norm_layer(config: DetectorConfig) -> Callable[..., nn.Module]:
    # Pretrained trunks keep their statistics (torchvision practice). From scratch, batch-norm
    # statistics of a few small cutouts are noise; group norm does not depend on the batch
    # (He, Girshick & Dollar 2019, "Rethinking ImageNet pre-training").
    norm = config.norm
    if norm == "auto":
        norm = "group" if config.init == "random" else "frozen"
    return {"batch": nn.BatchNorm2d, "group": group_norm, "frozen": FrozenBatchNorm2d}[norm]


def _new_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    return nn.Conv2d(
        in_channels,
        conv.out_channels,
        kernel_size=conv.kernel_size,  # type: ignore[arg-type]
        stride=conv.stride,  # type: ignore[arg-type]
        padding=conv.padding,  # type: ignore[arg-type]
        bias=conv.bias is not None,
    )


def _resnet_backbone(config: DetectorConfig, in_channels: int) -> BackboneWithFPN:
    norm = _norm_layer(config)
    trunk = (resnet18 if config.backbone == "resnet18_fpn" else resnet50)(
        weights=None, norm_layer=norm
    )
    if in_channels != 3:
        trunk.conv1 = _new_first_conv(trunk.conv1, in_channels)
    # as torchvision's _resnet_fpn_extractor, with a configurable FPN width
    train = ["layer4", "layer3", "layer2", "layer1", "conv1"][: config.trainable_layers]
    if config.trainable_layers == 5:
        train.append("bn1")
    for name, parameter in trunk.named_parameters():
        if not any(name.startswith(layer) for layer in train):
            parameter.requires_grad_(False)
    stage2 = trunk.inplanes // 8
    return BackboneWithFPN(
        trunk,
        return_layers={f"layer{k}": str(k - 1) for k in (1, 2, 3, 4)},
        in_channels_list=[stage2 * 2 ** (k - 1) for k in (1, 2, 3, 4)],
        out_channels=config.fpn_channels,
        extra_blocks=LastLevelMaxPool(),
        norm_layer=nn.BatchNorm2d if config.backbone == "resnet50_fpn_v2" else None,
    )


def _mobilenet_backbone(config: DetectorConfig, in_channels: int) -> BackboneWithFPN:
    norm = _norm_layer(config)
    trunk = mobilenet_v3_large(weights=None, norm_layer=norm).features
    if in_channels != 3:
        first = trunk[0][0]
        assert isinstance(first, nn.Conv2d)
        trunk[0][0] = _new_first_conv(first, in_channels)
    # trainable_layers counts stages from the top, like the ResNets (5 = all, 0 = none)
    stage_ends = [0, 3, 6, 12, 16]
    first_trainable = (
        stage_ends[5 - config.trainable_layers] + 1 if config.trainable_layers < 5 else 0
    )
    if config.trainable_layers == 0:
        first_trainable = len(trunk)
    for index, block in enumerate(trunk):
        if index < first_trainable:
            for parameter in block.parameters():
                parameter.requires_grad_(False)
    return BackboneWithFPN(
        trunk,
        return_layers={key: str(i) for i, key in enumerate(MOBILENET_TAPS)},
        in_channels_list=list(MOBILENET_TAPS.values()),
        out_channels=config.fpn_channels,
        extra_blocks=LastLevelMaxPool(),
    )


def build_detector(
    config: DetectorConfig, *, num_classes: int, in_channels: int, image_size: int
) -> MaskRCNN:
    """Build an untrained Mask R-CNN (random weights; nothing downloaded).

    Parameters
    ----------
    config
        Model settings (backbone, anchors, lean head settings).
    num_classes
        Number of object classes, WITHOUT the background (torchvision adds label 0).
    in_channels
        Channels of the normalised input images, (C, H, W).
    image_size
        Cutout side in pixels; images are not resized (``min_size = max_size``).

    Returns
    -------
    torchvision.models.detection.MaskRCNN
        In train mode. In eval mode, ``model(images)`` returns per image ``boxes`` (N, 4)
        x1, y1, x2, y2 pixels, ``labels`` (N,) 1..num_classes, ``scores`` (N,) and ``masks``
        (N, 1, H, W) probabilities.
    """
    # seeded init without touching the caller's global generator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return _build(
            config, num_classes=num_classes, in_channels=in_channels, image_size=image_size
        )


def _build(
    config: DetectorConfig, *, num_classes: int, in_channels: int, image_size: int
) -> MaskRCNN:
    if config.backbone == "mobilenet_v3_fpn":
        backbone = _mobilenet_backbone(config, in_channels)
    else:
        backbone = _resnet_backbone(config, in_channels)
    channels = backbone.out_channels
    anchors = AnchorGenerator(
        sizes=tuple((size,) for size in config.anchor_sizes),
        aspect_ratios=(tuple(config.aspect_ratios),) * len(config.anchor_sizes),
    )
    heads: dict[str, Any] = {}
    if config.backbone == "resnet50_fpn_v2":
        heads["rpn_head"] = RPNHead(channels, anchors.num_anchors_per_location()[0], conv_depth=2)
        heads["box_head"] = FastRCNNConvFCHead(
            (channels, 7, 7), [256, 256, 256, 256], [config.box_head_dim], norm_layer=nn.BatchNorm2d
        )
    else:
        heads["rpn_head"] = RPNHead(channels, anchors.num_anchors_per_location()[0])
        heads["box_head"] = TwoMLPHead(channels * 7 * 7, config.box_head_dim)
    heads["box_predictor"] = FastRCNNPredictor(config.box_head_dim, num_classes + 1)
    mask_layers = [config.mask_head_channels] * config.mask_head_layers
    heads["mask_head"] = MaskRCNNHeads(channels, mask_layers, 1)
    heads["mask_predictor"] = MaskRCNNPredictor(
        config.mask_head_channels, config.mask_head_channels, num_classes + 1
    )
    heads["mask_roi_pool"] = MultiScaleRoIAlign(
        featmap_names=["0", "1", "2", "3"], output_size=config.mask_roi_size, sampling_ratio=2
    )
    model = MaskRCNN(
        backbone,
        min_size=image_size,
        max_size=image_size,
        image_mean=[0.0] * in_channels,
        image_std=[1.0] * in_channels,
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=config.rpn_pre_nms_top_n_train,
        rpn_post_nms_top_n_train=config.rpn_post_nms_top_n_train,
        rpn_pre_nms_top_n_test=config.rpn_pre_nms_top_n_test,
        rpn_post_nms_top_n_test=config.rpn_post_nms_top_n_test,
        rpn_batch_size_per_image=config.rpn_batch_size_per_image,
        box_batch_size_per_image=config.box_batch_size_per_image,
        box_detections_per_img=config.box_detections_per_img,
        box_score_thresh=config.box_score_thresh,
        box_nms_thresh=config.box_nms_thresh,
        **heads,
    )
    return model


def _unwrap_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "backbone"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputFileError(path, "not a state dict of tensors (save model.state_dict())")
    return obj


def _strip_prefixes(key: str) -> str:
    for prefix in ("module.", "backbone.body.", "backbone.", "encoder.", "model.", "features."):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def adapt_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Adapt RGB filters (out, 3, k, k) to ``in_channels`` inputs.

    Every new input channel gets the mean of the RGB filters scaled by 3 / in_channels, so an
    image with the same values in all channels gives the same response as a grey RGB image.
    """
    mean = weight.mean(dim=1, keepdim=True)
    return mean.repeat(1, in_channels, 1, 1) * (weight.shape[1] / in_channels)


def load_backbone_weights(
    model: MaskRCNN,
    path: str | Path,
    *,
    kind: Literal["imagenet", "ssl"],
    expect_normalisation: NormalisationSpec | None = None,
) -> dict[str, list[str]]:
    """Copy a local backbone state dict into ``model.backbone.body`` (the trunk below the FPN).

    Parameters
    ----------
    model
        A model from :func:`build_detector`.
    path
        ``torch.save`` file of a torchvision ImageNet classifier state dict (``conv1.weight``,
        ``layer1...`` for ResNets; ``features.0.0.weight`` ... for MobileNetV3) or an SSL
        backbone state dict (plain ResNet keys, possibly under ``state_dict``/``model`` and
        prefixed ``module.``/``backbone.``/``encoder.``). Classifier keys (``fc.*``) are ignored.
    kind
        ``imagenet`` or ``ssl``; only used in the log.
    expect_normalisation
        The training cutouts' normaliser: a skysift SSL ``backbone.pt`` pretrained on inputs
        normalised otherwise is refused (files without a ``skysift`` block are not checked).

    Returns
    -------
    dict
        ``loaded`` (trunk keys copied), ``adapted`` (first conv adapted to the input channels),
        ``missing`` (trunk keys left at their init), ``unexpected`` (file keys not used).

    Raises
    ------
    InputFileError
        The file is missing, unreadable, not a state dict, no key matches the trunk, or its
        normalisation is not ``expect_normalisation``.
    """
    return load_trunk_weights(
        model.backbone.body, path, kind=kind, expect_normalisation=expect_normalisation
    )


def _check_normalisation(raw: Any, path: Path, expected: NormalisationSpec) -> None:
    """Refuse a file whose ``skysift`` block names another normalisation than ``expected``."""
    block = raw.get("skysift") if isinstance(raw, dict) else None
    if not isinstance(block, dict) or "normalisation" not in block:
        return
    theirs = NormalisationSpec.model_validate(block["normalisation"])
    if theirs != expected:
        names = "+".join(c.method for c in theirs.channels)
        ours = "+".join(c.method for c in expected.channels)
        raise InputFileError(
            path,
            f"was pretrained on inputs normalised as {names} ({theirs.model_dump(mode='json')}), "
            f"not as the training cutouts are ({ours}); pretrain with cutouts.normalisation",
        )


def load_trunk_weights(
    trunk: nn.Module,
    path: str | Path,
    *,
    kind: str,
    expect_normalisation: NormalisationSpec | None = None,
) -> dict[str, list[str]]:
    """Copy a local state dict into a trunk (any module with torchvision ResNet/MobileNet keys).

    What :func:`load_backbone_weights` does for the detector, for any trunk (the SSL
    benchmark's classifiers use it for their ImageNet strategy). Same parameters, report and
    errors; ``kind`` only names the weights in the log and the messages.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"{kind} backbone weights file not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputFileError(path, f"cannot read backbone weights ({exc})") from exc
    if expect_normalisation is not None:
        _check_normalisation(raw, path, expect_normalisation)
    source = {_strip_prefixes(k): v for k, v in _unwrap_state_dict(raw, path).items()}
    target = trunk.state_dict()
    report: dict[str, list[str]] = {"loaded": [], "adapted": [], "missing": [], "unexpected": []}
    new_state = {}
    for key, value in target.items():
        if key not in source:
            report["missing"].append(key)
            continue
        incoming = source[key]
        if incoming.shape == value.shape:
            new_state[key] = incoming.to(value.dtype)
            report["loaded"].append(key)
        elif (
            incoming.ndim == 4
            and incoming.shape[0] == value.shape[0]
            and incoming.shape[2:] == (value.shape[2:])
        ):
            new_state[key] = adapt_first_conv(incoming, value.shape[1]).to(value.dtype)
            report["adapted"].append(key)
        else:
            report["missing"].append(key)
    report["unexpected"] = sorted(set(source) - set(target))
    if not new_state:
        raise InputFileError(
            path,
            f"no key matches the {type(trunk).__name__} trunk of this backbone (expected keys "
            f"like {next(iter(target))!r}); is it a state dict of the same architecture?",
        )
    trunk.load_state_dict(new_state, strict=False)
    log.info(
        "%s backbone weights from %s: %d tensors loaded, %d adapted, %d missing, %d unused",
        kind,
        path,
        len(report["loaded"]),
        len(report["adapted"]),
        len(report["missing"]),
        len(report["unexpected"]),
    )
    if report["missing"]:
        log.warning("backbone keys left at init: %s", ", ".join(report["missing"][:10]))
    return report
