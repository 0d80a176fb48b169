"""Settings of the training-set builder (section ``cutouts`` of the project config).

The normalisation models live here too (they are plain settings); :mod:`skysift.data.normalise`
applies them. A :class:`NormalisationSpec` is stored with every dataset and model so that
training, prediction and self-supervised learning use exactly the same preprocessing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from skysift.settings import StrictModel

#: Normalisation methods understood by :func:`skysift.data.normalise.normalise`.
NormalisationMethod = Literal["zscale", "sigma_clip", "asinh", "log", "minmax"]

#: Names of the splits, in the order used everywhere (index 0, 1, 2).
SPLITS: tuple[str, str, str] = ("train", "val", "test")


class ChannelSpec(StrictModel):
    """One output channel: a method and its parameters (unused parameters are ignored).

    ``zscale`` uses ``contrast``; ``sigma_clip`` uses ``lo_sigma``/``hi_sigma``/``clip_sigma``;
    ``asinh`` and ``log`` use ``percentile_lo``/``percentile_hi`` (robust min/max) and
    ``stretch_a``; ``minmax`` uses the plain finite min and max.
    """

    method: NormalisationMethod = Field("zscale", description="normalisation method")
    contrast: float = Field(0.25, gt=0, le=1, description="zscale contrast")
    lo_sigma: float = Field(
        3.0, ge=0, description="sigma_clip: lower limit, in rms below the clipped median"
    )
    hi_sigma: float = Field(
        10.0, gt=0, description="sigma_clip: upper limit, in rms above the clipped median"
    )
    clip_sigma: float = Field(
        3.0, gt=0, description="sigma_clip: rejection threshold of the clipped statistics"
    )
    percentile_lo: float = Field(
        0.5, ge=0, le=100, description="asinh/log: percentile taken as the minimum"
    )
    percentile_hi: float = Field(
        99.5, ge=0, le=100, description="asinh/log: percentile taken as the maximum"
    )
    stretch_a: float | None = Field(
        None,
        gt=0,
        description="asinh/log stretch parameter a (astropy); default 0.1 (asinh), 1000 (log)",
    )

    @model_validator(mode="after")
    def _limits_ordered(self) -> ChannelSpec:
        if self.percentile_lo >= self.percentile_hi:
            raise ValueError(
                f"percentile_lo ({self.percentile_lo}) must be below percentile_hi "
                f"({self.percentile_hi})"
            )
        return self


class NormalisationSpec(StrictModel):
    """A stack of channels; image (H, W) -> normalised array (C, H, W), C = len(channels)."""

    channels: list[ChannelSpec] = Field(
        default_factory=lambda: [ChannelSpec(method="zscale")],
        min_length=1,
        description="channel specs, in output channel order",
    )


class SplitFractions(StrictModel):
    """Fractions of sky-region blocks assigned to each split; they must sum to 1."""

    train: float = Field(0.7, ge=0, le=1)
    val: float = Field(0.15, ge=0, le=1)
    test: float = Field(0.15, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self

    def as_tuple(self) -> tuple[float, float, float]:
        """Fractions in :data:`SPLITS` order."""
        return (self.train, self.val, self.test)


class CutoutConfig(StrictModel):
    """How maps become a COCO training set (sizes in pixels of the input map)."""

    size_pix: int = Field(128, ge=8, description="cutout side in pixels")
    stride_pix: int | None = Field(
        None, ge=1, description="step between cutouts in pixels (default: size_pix)"
    )
    split: SplitFractions = Field(default_factory=SplitFractions)
    region_block_pix: int = Field(
        512,
        ge=8,
        description="side of the sky-region blocks (pixels) that are assigned to splits",
    )
    normalisation: NormalisationSpec = Field(default_factory=NormalisationSpec)
    class_map: dict[str, str] = Field(
        default_factory=dict, description="rename truth classes before use, e.g. {FRII: ...}"
    )
    min_mask_area_pix: int = Field(
        4, ge=1, description="drop annotations whose visible mask has fewer pixels"
    )
    min_snr: float = Field(
        0.0,
        ge=0,
        description="annotate only objects with truth snr >= this (0: all, even undetectable)",
    )
    min_snr_by_class: dict[str, float] = Field(
        default_factory=dict,
        description="per-class override of min_snr, e.g. {diffuse: 0} (diffuse emission is seen "
        "by its extent, not its peak)",
    )
    keep_truncated: bool = Field(
        True, description="keep objects cut by the cutout edge (flagged truncated)"
    )
    empty_fraction: float = Field(
        0.1, ge=0, le=1, description="fraction of cutouts without objects that are kept"
    )
    min_valid_fraction: float = Field(
        0.5, ge=0, le=1, description="skip cutouts with a smaller fraction of finite pixels"
    )

    @model_validator(mode="after")
    def _block_holds_cutout(self) -> CutoutConfig:
        if self.region_block_pix < self.size_pix:
            raise ValueError(
                f"region_block_pix ({self.region_block_pix}) must be at least size_pix "
                f"({self.size_pix}): every cutout lies inside one sky-region block"
            )
        return self

    @property
    def stride(self) -> int:
        """Effective stride in pixels."""
        return self.stride_pix if self.stride_pix is not None else self.size_pix
