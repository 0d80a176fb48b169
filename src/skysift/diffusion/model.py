"""The mask- or class-conditioned DDPM: diffusers ``UNet2DModel``, schedules, value encoding, files.

The model works on ``y = 2 asinh(snr / a) / asinh(snr_max / a) - 1`` (a = ``snr_scale``), so the
empty background is exactly -1 and a source's dynamic range of 1-1000 sigma is compressed into
[-1, 1]. Mask conditioning appends K channels (one per class, -1 outside / +1 inside the masks).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

from skysift.diffusion.config import DiffusionModelConfig
from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path
from skysift.io.torchfile import load_torch_file

MODEL_VERSION = 1


def encode_snr(snr: np.ndarray | torch.Tensor, config: DiffusionModelConfig) -> Any:
    """S/N per pixel -> model value in [-1, 1] (0 -> -1)."""
    norm = math.asinh(config.snr_max / config.snr_scale)
    if isinstance(snr, torch.Tensor):
        return (2.0 * torch.asinh(snr / config.snr_scale) / norm - 1.0).clamp(-1.0, 1.0)
    return np.clip(2.0 * np.arcsinh(snr / config.snr_scale) / norm - 1.0, -1.0, 1.0)


def decode_snr(value: np.ndarray | torch.Tensor, config: DiffusionModelConfig) -> Any:
    """Inverse of :func:`encode_snr` (values below -1 give S/N 0)."""
    norm = math.asinh(config.snr_max / config.snr_scale)
    if isinstance(value, torch.Tensor):
        return config.snr_scale * torch.sinh((value.clamp(-1.0, 1.0) + 1.0) * norm / 2.0)
    return config.snr_scale * np.sinh((np.clip(value, -1.0, 1.0) + 1.0) * norm / 2.0)


def build_unet(config: DiffusionModelConfig, n_classes: int) -> UNet2DModel:
    """The UNet: input = noisy image (+ K mask channels), output = predicted noise."""
    levels = len(config.block_out_channels)
    attention = set(config.attention_levels)
    down = tuple("AttnDownBlock2D" if i in attention else "DownBlock2D" for i in range(levels))
    up = tuple(
        "AttnUpBlock2D" if (levels - 1 - i) in attention else "UpBlock2D" for i in range(levels)
    )
    mask_channels = n_classes if config.conditioning == "mask" else 0
    return UNet2DModel(
        sample_size=config.model_pix,
        in_channels=1 + mask_channels,
        out_channels=1,
        block_out_channels=tuple(config.block_out_channels),
        down_block_types=down,
        up_block_types=up,
        layers_per_block=config.layers_per_block,
        norm_num_groups=config.norm_num_groups,
        num_class_embeds=n_classes if config.conditioning == "class" else None,
    )


def train_scheduler(config: DiffusionModelConfig) -> DDPMScheduler:
    """DDPM noise schedule of training (epsilon prediction)."""
    return DDPMScheduler(
        num_train_timesteps=config.train_timesteps,
        beta_schedule=config.beta_schedule,
        prediction_type="epsilon",
        clip_sample=True,
    )


def sample_scheduler(config: DiffusionModelConfig) -> DDIMScheduler:
    """DDIM sampler with the training schedule, ``sample_steps`` steps, deterministic (eta 0)."""
    scheduler = DDIMScheduler(
        num_train_timesteps=config.train_timesteps,
        beta_schedule=config.beta_schedule,
        prediction_type="epsilon",
        clip_sample=True,
    )
    scheduler.set_timesteps(config.sample_steps)
    return scheduler


def bin_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor`` x ``factor`` blocks of the last two axes."""
    if factor == 1:
        return array
    *lead, h, w = array.shape
    return array.reshape(*lead, h // factor, factor, w // factor, factor).mean(axis=(-3, -1))


def bin_max(array: np.ndarray, factor: int) -> np.ndarray:
    """Maximum over ``factor`` x ``factor`` blocks of the last two axes (masks)."""
    if factor == 1:
        return array
    *lead, h, w = array.shape
    return array.reshape(*lead, h // factor, factor, w // factor, factor).max(axis=(-3, -1))


def upsample(values: torch.Tensor, factor: int) -> torch.Tensor:
    """(B, 1, h, w) -> (B, 1, h f, w f), bilinear (model pixels back to map pixels)."""
    if factor == 1:
        return values
    return torch.nn.functional.interpolate(
        values, scale_factor=factor, mode="bilinear", align_corners=False
    )


def conditioning_input(masks: torch.Tensor) -> torch.Tensor:
    """Class-coded masks (B, K, W, W) in {0, 1} -> {-1, +1} input channels."""
    return masks.float() * 2.0 - 1.0


def model_forward(
    unet: UNet2DModel,
    noisy: torch.Tensor,
    timesteps: torch.Tensor,
    *,
    masks: torch.Tensor | None,
    labels: torch.Tensor | None,
) -> torch.Tensor:
    """Predicted noise of ``noisy`` (B, 1, W, W) with the model's conditioning."""
    inputs = noisy if masks is None else torch.cat([noisy, conditioning_input(masks)], dim=1)
    return unet(inputs, timesteps, class_labels=labels).sample


def save_model(path: str | Path, unet: UNet2DModel, meta: dict[str, Any]) -> Path:
    """``model.pt``: the (EMA) weights and the ``skysift`` block, atomically."""
    with atomic_path(path) as tmp:
        torch.save({"model": unet.state_dict(), "skysift": meta}, tmp)
    return Path(path)


def load_model(path: str | Path) -> tuple[UNet2DModel, dict[str, Any]]:
    """Read a ``train-diffusion`` model file; the UNet in eval mode and its metadata.

    Raises
    ------
    InputFileError
        Missing, unreadable, or not a skysift diffusion model (names the file).
    """
    path = Path(path)
    state = load_torch_file(path, what="diffusion model")
    meta = state.get("skysift") if isinstance(state, dict) else None
    if not isinstance(meta, dict) or meta.get("kind") != "diffusion" or "model" not in state:
        raise InputFileError(path, "not a skysift diffusion model (see `skysift train-diffusion`)")
    config = DiffusionModelConfig.model_validate(meta["config"])
    unet = build_unet(config, len(meta["classes"]))
    try:
        unet.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise InputFileError(path, f"weights do not fit the model config ({exc})") from exc
    unet.eval()
    return unet, meta
