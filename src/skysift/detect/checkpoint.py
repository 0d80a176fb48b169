"""Detector checkpoints: one ``torch.save`` dictionary with the model's full preprocessing/config.

Keys: ``model`` (state dict), ``optimizer``, ``scheduler`` (state dicts, None in a weights-only
file), ``step``, ``epoch``, ``rng`` (torch, numpy and python generator states), ``best_score``,
``early_stop`` (validations without improvement), and ``skysift``: ``model_config`` (the
:class:`~skysift.detect.config.DetectorConfig` dump), ``classes``, ``normalisation`` (spec dump),
``size_pix``, ``in_channels``, ``skysift_version``. Files are read with ``weights_only=True``
(no arbitrary code) and written atomically.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from torchvision.models.detection import MaskRCNN

from skysift import __version__
from skysift.data.config import NormalisationSpec
from skysift.detect.config import DetectorConfig
from skysift.detect.model import build_detector
from skysift.errors import ConfigError, InputFileError
from skysift.io.atomic import atomic_path
from skysift.io.torchfile import load_torch_file

log = logging.getLogger(__name__)

#: Keys of the ``skysift`` metadata block.
META_KEYS: tuple[str, ...] = (
    "model_config",
    "classes",
    "normalisation",
    "size_pix",
    "in_channels",
    "skysift_version",
)


def model_metadata(
    config: DetectorConfig,
    *,
    classes: list[str],
    normalisation: NormalisationSpec,
    size_pix: int,
) -> dict[str, Any]:
    """The ``skysift`` block of a checkpoint."""
    return {
        "model_config": config.model_dump(mode="json"),
        "classes": list(classes),
        "normalisation": normalisation.model_dump(mode="json"),
        "size_pix": int(size_pix),
        "in_channels": len(normalisation.channels),
        "skysift_version": __version__,
    }


def rng_states() -> dict[str, Any]:
    """Torch, numpy (legacy global) and python generator states, in weights-only-safe types."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    """Inverse of :func:`rng_states`."""
    torch.set_rng_state(states["torch"])
    if states.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint dictionary atomically (never a half-written file)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint and check its structure.

    Raises
    ------
    InputFileError
        Naming the file when it is missing, corrupt, or not a skysift detector checkpoint.
    """
    path = Path(path)
    state = load_torch_file(path, what="model checkpoint")
    if not isinstance(state, dict) or "model" not in state or "skysift" not in state:
        raise InputFileError(
            path, "not a skysift detector checkpoint (no 'model'/'skysift' entries)"
        )
    missing = [k for k in META_KEYS if k not in state["skysift"]]
    if missing:
        raise InputFileError(path, f"checkpoint metadata lacks {', '.join(missing)}")
    return state


def check_metadata(
    meta: dict[str, Any],
    path: str | Path,
    *,
    expect_normalisation: NormalisationSpec | None = None,
    expect_classes: list[str] | None = None,
    expect_in_channels: int | None = None,
    expect_size_pix: int | None = None,
) -> None:
    """Refuse a checkpoint whose preprocessing or classes differ from what the data needs.

    Raises
    ------
    ConfigError
        With key ``normalisation``, ``classes``, ``in_channels`` or ``size_pix`` and both values.
    """
    expected: dict[str, Any] = {}
    if expect_normalisation is not None:
        expected["normalisation"] = expect_normalisation.model_dump(mode="json")
    if expect_classes is not None:
        expected["classes"] = list(expect_classes)
    if expect_in_channels is not None:
        expected["in_channels"] = int(expect_in_channels)
    if expect_size_pix is not None:
        expected["size_pix"] = int(expect_size_pix)
    for key, value in expected.items():
        if meta[key] != value:
            raise ConfigError(
                key,
                f"model {path} was trained with {key}={meta[key]!r} but the data has "
                f"{value!r}; rebuild the data with the model's settings or retrain the model",
            )


def load_detector(
    path: str | Path,
    *,
    expect_normalisation: NormalisationSpec | None = None,
    expect_classes: list[str] | None = None,
    expect_in_channels: int | None = None,
    expect_size_pix: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[MaskRCNN, dict[str, Any]]:
    """Rebuild a trained detector from its checkpoint, in eval mode.

    Parameters
    ----------
    path
        ``model.pt`` or ``last.pt`` written by ``skysift train-detector``.
    expect_normalisation, expect_classes, expect_in_channels, expect_size_pix
        What the data to be processed uses; a difference is refused.
    device
        Where to put the model.

    Returns
    -------
    (model, meta)
        The model and the checkpoint's ``skysift`` block (plus ``step`` and ``best_score``).

    Raises
    ------
    InputFileError
        Missing, corrupt or foreign file; weights that do not fit the stored config.
    ConfigError
        A mismatch, naming the differing key.
    """
    state = read_checkpoint(path)
    meta = dict(state["skysift"])
    check_metadata(
        meta,
        path,
        expect_normalisation=expect_normalisation,
        expect_classes=expect_classes,
        expect_in_channels=expect_in_channels,
        expect_size_pix=expect_size_pix,
    )
    try:
        config = DetectorConfig.model_validate(meta["model_config"])
    except ValidationError as exc:
        raise InputFileError(path, f"stored model_config is invalid ({exc})") from exc
    model = build_detector(
        config,
        num_classes=len(meta["classes"]),
        in_channels=int(meta["in_channels"]),
        image_size=int(meta["size_pix"]),
    )
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise InputFileError(
            path, f"weights do not fit the stored model config: {exc}".splitlines()[0]
        ) from exc
    model.to(device).eval()
    meta["step"] = state.get("step")
    meta["best_score"] = state.get("best_score")
    return model, meta
