"""Settings of whole-map prediction (section ``predict`` of the project config).

Sizes are in pixels of the map (the tile side is the model's training cutout size, ``size_pix`` of
its checkpoint, unless ``tile_pix`` asks for larger tiles).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from skysift.settings import StrictModel


class PredictConfig(StrictModel):
    """How ``skysift predict-map`` tiles a map, runs the detector and merges tiles."""

    overlap_pix: int = Field(
        48,
        ge=0,
        description="overlap of neighbouring tiles in pixels; objects smaller than this are "
        "seen whole by at least one tile (must be below the model's tile size)",
    )
    batch_size: int = Field(4, ge=1, description="tiles per forward pass (and per MPI work unit)")
    tile_pix: int | None = Field(
        None,
        ge=8,
        description="tile side in pixels (null: the model's training cutout size). Larger tiles "
        "waste less work on overlaps (stride tile - overlap); the map is not resampled, and the "
        "model's per-image proposal and detection budgets are scaled by the tile area",
    )
    score_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="minimum detection score of every class (null: the model's own, per class "
        "as calibrated on the validation split)",
    )
    merge_iou: float = Field(
        0.3,
        gt=0,
        le=1,
        description="two detections from neighbouring tiles are one object when their mask IoU "
        "within the pixels both tiles see reaches this",
    )
    merge_containment: float = Field(
        0.6,
        gt=0,
        le=1,
        description="a detection cut by a tile border also joins a neighbour's detection that "
        "covers this fraction of it (within the pixels both tiles see)",
    )
    normalisation: Literal["per_tile"] = Field(
        "per_tile",
        description="where normalisation statistics come from: per_tile = the model's spec "
        "applied to each raw tile, exactly as the training cutouts were normalised",
    )
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:1 ...")
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="float32 (exact), bfloat16 autocast (faster on CPUs with AVX-512 BF16/AMX "
        "and on GPUs; detections differ slightly), or auto: bfloat16 where the device computes "
        "it natively (a CUDA GPU with bf16, a Linux CPU flagged avx512_bf16 or amx_bf16 unless "
        "ONEDNN_MAX_CPU_ISA caps oneDNN below them), else float32; the precision used is in "
        "summary.json",
    )
    max_proposals: int | None = Field(
        50,
        ge=1,
        description="at most this many RPN proposals kept after NMS per tile of the training "
        "cutout size (a larger tile_pix scales it by the area ratio; null: the model's own "
        "budget, 150 in the demo); fewer is faster and may miss objects in crowded tiles",
    )
    threads: int | None = Field(
        1,
        ge=1,
        description="torch CPU threads per process (1 = deterministic; scale with MPI ranks); "
        "null = torch's default",
    )
    write_masks: bool = Field(
        True,
        description="write segmentation.fits (int32 object id per pixel, 0 = none; streamed "
        "to disk in blocks of rows, never the whole map in memory)",
    )
    write_object_masks: bool = Field(
        False,
        description="also write object_masks.fits: one mask image per object (its bounding box, "
        "with the map's WCS shifted to it)",
    )
    write_png: bool = Field(True, description="write a quick-look PNG with class-coloured outlines")
    min_area_pix: int = Field(
        1, ge=1, description="drop detections whose mask has fewer pixels (per tile)"
    )
