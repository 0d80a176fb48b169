"""Settings of the diffusion models that make synthetic annotated sources (section ``diffusion``).

The model generates a source's background-free emission in units of the local noise (S/N per
pixel), conditioned on its mask (or on its class only); real or simulated noise is added
afterwards, so the background statistics of a synthetic cutout are exact by construction.
Sizes are pixels of the map; S/N is pixel value / local rms. Defaults are the CPU demo size;
``config/paper.yaml`` holds the GPU size.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from skysift.settings import StrictModel

Conditioning = Literal["mask", "class"]
MaskSource = Literal["dataset", "simulator"]
Generator = Literal["diffusion", "paste"]


class DiffusionModelConfig(StrictModel):
    """The diffusers ``UNet2DModel`` and its noise schedules."""

    conditioning: Conditioning = Field(
        "mask",
        description="mask: the class-coded mask is extra input channels (one per class), so a "
        "sample obeys a given layout; class: class label embedding only, the mask is the "
        "sample's own island above mask_snr",
    )
    window_pix: int = Field(
        128, ge=16, description="side of the generated window, pixels of the map"
    )
    downsample: int = Field(
        2,
        ge=1,
        description="the model works on windows binned by this factor (2: a 128-pixel window "
        "is a 64-pixel model input; beam-convolved emission stays sampled), samples are "
        "interpolated back to map pixels",
    )
    block_out_channels: list[int] = Field(
        default_factory=lambda: [32, 64, 64, 128],
        min_length=2,
        description="channels of the UNet levels (the window halves at each but the last)",
    )
    attention_levels: list[int] = Field(
        default_factory=lambda: [2],
        description="UNet levels (0-based) with self-attention blocks",
    )
    layers_per_block: int = Field(1, ge=1)
    norm_num_groups: int = Field(8, ge=1)
    train_timesteps: int = Field(1000, ge=10, description="DDPM noise levels")
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = "squaredcos_cap_v2"
    sample_steps: int = Field(25, ge=1, description="DDIM steps when sampling")
    snr_scale: float = Field(
        3.0, gt=0, description="S/N of the asinh knee: model value = asinh(snr / snr_scale)"
    )
    snr_max: float = Field(
        3000.0, gt=0, description="S/N mapped to +1 (brighter pixels are clipped)"
    )

    @property
    def model_pix(self) -> int:
        """Side of the model input, pixels."""
        return self.window_pix // self.downsample

    @model_validator(mode="after")
    def _levels(self) -> DiffusionModelConfig:
        n = len(self.block_out_channels)
        bad = [lvl for lvl in self.attention_levels if not 0 <= lvl < n]
        if bad:
            raise ValueError(f"attention_levels {bad} outside 0..{n - 1}")
        step = self.downsample * 2 ** (n - 1)
        if self.window_pix % step:
            raise ValueError(f"window_pix must be a multiple of downsample x 2^{n - 1} = {step}")
        if any(c % self.norm_num_groups for c in self.block_out_channels):
            raise ValueError("every block_out_channels entry must divide by norm_num_groups")
        if self.snr_max <= self.snr_scale:
            raise ValueError("snr_max must exceed snr_scale")
        return self


class DiffusionTrainConfig(StrictModel):
    """``skysift train-diffusion``: which windows to learn from and the optimisation."""

    model: DiffusionModelConfig = Field(default_factory=DiffusionModelConfig)
    classes: list[str] | None = Field(
        None,
        description="classes whose objects centre a training window (null: all classes of "
        "the dataset); every object inside a window is in its mask channels",
    )
    splits: list[str] = Field(
        default_factory=lambda: ["train"], description="dataset splits to learn from"
    )
    min_mask_pix: int = Field(4, ge=1, description="skip objects with fewer mask pixels")
    max_steps: int = Field(300, ge=1, description="optimiser steps")
    batch_size: int = Field(16, ge=1)
    lr: float = Field(3e-4, gt=0)
    warmup_steps: int = Field(20, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    ema_decay: float = Field(0.995, gt=0, lt=1, description="EMA of the weights used to sample")
    augment: bool = Field(True, description="random flips and 90-degree rotations")
    loss_region: Literal["mask", "all"] = Field(
        "mask",
        description="mask: the noise-prediction loss counts only pixels within loss_margin "
        "model pixels of a mask (a sample's emission outside its masks is zeroed anyway, and "
        "masks cover ~3% of a window: on all pixels the empty background dominates the loss); "
        "all: every pixel (always so for class conditioning)",
    )
    loss_margin: int = Field(2, ge=0, description="dilation of the loss region, model pixels")
    checkpoint_every: int = Field(50, ge=1, description="steps between last.pt checkpoints")
    log_every: int = Field(10, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = Field(True, description="bfloat16 autocast on a GPU (ignored on CPU)")
    seed: int = 42


class SampleConfig(StrictModel):
    """``skysift sample-diffusion``: synthetic sources pasted into training cutouts.

    Each synthetic source gets a mask (from the dataset's own objects, shifted, flipped and
    rotated, or freshly drawn by the simulator's morphology generator), an emission image
    (the diffusion model, or the trivial ``paste`` baseline: mask x the class's median S/N),
    and is added to a noise-only spot of a training cutout (no mask pixel of any object within
    ``margin_pix``), scaled by that cutout's local rms; the cutout keeps its own annotations.
    """

    generator: Generator = Field("diffusion", description="diffusion model or trivial paste")
    mask_source: MaskSource = "dataset"
    window_pix: int = Field(
        128,
        ge=8,
        description="window of the layouts of the paste baseline, map pixels (the diffusion "
        "generator uses its model's window_pix)",
    )
    per_class: dict[str, int] = Field(
        default_factory=lambda: {
            "extended": 20,
            "extended-multi": 20,
            "diffuse": 20,
            "spurious": 20,
        },
        description="synthetic sources per class",
    )
    brightness: Literal["model", "empirical"] = Field(
        "empirical",
        description="surface brightness of diffusion samples: as generated (model), or each "
        "object rescaled to a mean S/N inside its mask drawn from the same class's training "
        "objects (empirical: the model gives the morphology, the data the brightness)",
    )
    sources_per_cutout: int = Field(1, ge=1, le=8)
    margin_pix: int = Field(4, ge=0, description="clearance from existing masks, pixels")
    mask_snr: float = Field(
        1.0,
        gt=0,
        description="S/N of the mask edge of class-conditioned samples (as the simulator's "
        "simulate.mask.threshold_sigma)",
    )
    min_mask_pix: int = Field(4, ge=1)
    batch_size: int = Field(16, ge=1)
    max_tries: int = Field(50, ge=1, description="placements tried per source before giving up")
    min_visible_fraction: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a source may be pasted across the cutout edge if this fraction of its "
        "mask stays inside (annotated truncated, like real objects cut by a cutout edge)",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 7


class QualityConfig(StrictModel):
    """``skysift diffusion-quality``: how synthetic sources compare with real ones.

    Besides the mask-based measures (always on), PyBDSF's view: the finder (settings of
    ``baselines.pybdsf``) runs on whole cutouts, synthetic and real, and reports per object
    whether it is found, its flux and size as the finder measures them, and the IoU of the
    finder's island with the object's mask. PyBDSF takes a few seconds per cutout, so only a
    sample is measured.
    """

    finder_cutouts_per_class: int = Field(
        0,
        ge=0,
        description="per class, cutouts run through PyBDSF (those holding an object of it, "
        "drawn at random; the real set's and each synthetic set's); 0 = PyBDSF's view off",
    )
    seed: int = Field(11, description="draw of the cutouts PyBDSF measures")


class DiffusionConfig(StrictModel):
    """Section ``diffusion`` of the project config."""

    enabled: bool = Field(
        True, description="run the diffusion chain in the workflow (train, sample, quality)"
    )
    train: DiffusionTrainConfig = Field(default_factory=DiffusionTrainConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
