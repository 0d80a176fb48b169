"""Files of the SSL benchmark's models: exported backbones and morphology classifiers.

``backbone.pt`` (``ssl-pretrain``) is a ``torch.save`` dictionary::

    state_dict   the trunk's state dict, plain torchvision ResNet keys (conv1.weight, bn1.*,
                 layer1.* ...): what ``train-detector`` with ``init: ssl`` and
                 ``weights_path: backbone.pt`` loads into its trunk
    skysift      kind "ssl_backbone", method, pretrain_data, backbone, in_channels,
                 feature_dim, normalisation (spec dump), image_pix, crop_fraction,
                 ssl_config (the section dump), steps, final_loss, skysift_version

``classifier.pt`` (``ssl-benchmark``) adds ``head`` (state dict of the linear layer) and
``skysift.classes``. Both are read with ``weights_only=True`` and written atomically, so a
model can never silently use a different preprocessing than it was trained with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from skysift import __version__
from skysift.data.config import NormalisationSpec
from skysift.detect.checkpoint import save_checkpoint
from skysift.errors import InputFileError
from skysift.io.torchfile import load_torch_file
from skysift.ssl.augment import Preprocess
from skysift.ssl.models import build_backbone

#: Keys every ``skysift`` block carries.
META_KEYS: tuple[str, ...] = (
    "kind",
    "backbone",
    "in_channels",
    "feature_dim",
    "normalisation",
    "image_pix",
    "crop_fraction",
)


def backbone_metadata(
    *,
    backbone: str,
    spec: NormalisationSpec,
    feature_dim: int,
    image_pix: int,
    crop_fraction: float,
    **extra: Any,
) -> dict[str, Any]:
    """The ``skysift`` block of an exported backbone (``extra``: method, config, ...)."""
    return {
        "kind": "ssl_backbone",
        "backbone": backbone,
        "in_channels": len(spec.channels),
        "feature_dim": int(feature_dim),
        "normalisation": spec.model_dump(mode="json"),
        "image_pix": int(image_pix),
        "crop_fraction": float(crop_fraction),
        "skysift_version": __version__,
        **extra,
    }


def save_backbone(path: str | Path, backbone: nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``backbone.pt`` (see the module docstring) atomically."""
    state = {k: v.detach().cpu().clone() for k, v in backbone.state_dict().items()}
    return save_checkpoint(path, {"state_dict": state, "skysift": meta})


def save_classifier(
    path: str | Path,
    backbone: nn.Module,
    head: nn.Linear,
    meta: dict[str, Any],
    classes: list[str],
) -> Path:
    """Write ``classifier.pt``: backbone, linear head, classes and the preprocessing."""
    state = {k: v.detach().cpu().clone() for k, v in backbone.state_dict().items()}
    head_state = {k: v.detach().cpu().clone() for k, v in head.state_dict().items()}
    block = {**meta, "kind": "classifier", "classes": list(classes)}
    return save_checkpoint(path, {"state_dict": state, "head": head_state, "skysift": block})


def read_model_file(path: str | Path) -> dict[str, Any]:
    """Read a ``backbone.pt`` or ``classifier.pt`` and check its structure.

    Raises
    ------
    InputFileError
        Missing, unreadable, or not a skysift SSL model file.
    """
    path = Path(path)
    state = load_torch_file(path, what="model file")
    if not isinstance(state, dict) or "state_dict" not in state or "skysift" not in state:
        raise InputFileError(path, "not a skysift SSL model file (no 'state_dict'/'skysift')")
    missing = [k for k in META_KEYS if k not in state["skysift"]]
    if missing:
        raise InputFileError(path, f"model metadata lacks {', '.join(missing)}")
    return state


def load_backbone(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The trunk of a model file (eval mode) and its ``skysift`` block."""
    state = read_model_file(path)
    meta = state["skysift"]
    backbone, _ = build_backbone(meta["backbone"], int(meta["in_channels"]), seed=0)
    try:
        backbone.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise InputFileError(path, f"weights do not fit a {meta['backbone']} trunk") from exc
    return backbone.eval(), meta


def load_classifier(path: str | Path) -> tuple[nn.Module, nn.Linear, dict[str, Any]]:
    """Backbone, head and ``skysift`` block of a ``classifier.pt``."""
    state = read_model_file(path)
    if "head" not in state or "classes" not in state["skysift"]:
        raise InputFileError(path, "a backbone, not a classifier (made by ssl-benchmark)")
    backbone, meta = load_backbone(path)
    classes = list(meta["classes"])
    head = nn.Linear(int(meta["feature_dim"]), len(classes))
    head.load_state_dict(state["head"])
    return backbone, head.eval(), meta


def preprocess_of(meta: dict[str, Any]) -> Preprocess:
    """The deterministic preprocessing a model file was trained with."""
    return Preprocess(
        NormalisationSpec.model_validate(meta["normalisation"]),
        int(meta["image_pix"]),
        float(meta["crop_fraction"]),
    )
