"""Settings of the detector (section ``detect`` of the project config).

The defaults are the demo: a ResNet-18-FPN Mask R-CNN with lean heads that trains on 128-pixel
cutouts in about 10 minutes on 2 CPU cores. ``config/paper.yaml`` switches to ResNet-50-FPN v2,
more steps and a GPU. Sizes (anchors, mask head) are in pixels of the cutout.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from skysift.settings import StrictModel

Backbone = Literal["resnet50_fpn_v2", "resnet18_fpn", "mobilenet_v3_fpn"]


#: Mask probability above which a pixel belongs to a detection (prediction everywhere).
MASK_THRESHOLD = 0.5


class AugmentConfig(StrictModel):
    """Radio augmentations, applied to the raw Jy/beam pixels BEFORE normalisation.

    No colour jitter: the pixel values are physical. Flux scaling multiplies every pixel by a
    factor drawn uniformly from ``flux_scale``; added noise is white Gaussian noise whose sigma
    is drawn uniformly from ``noise_sigma`` in units of the cutout's robust rms (MAD), so together
    they change the signal-to-noise of the sources. The truth masks are not changed by them.
    """

    enabled: bool = Field(True, description="apply augmentations to the training split")
    flips: bool = Field(True, description="random horizontal and vertical flips")
    rot90: bool = Field(True, description="random rotations by multiples of 90 degrees")
    flux_scale: tuple[float, float] = Field(
        (0.8, 1.25), description="range of the multiplicative flux factor (1, 1 = off)"
    )
    noise_sigma: tuple[float, float] = Field(
        (0.0, 0.3), description="range of added noise sigma, in units of the cutout rms"
    )

    @model_validator(mode="after")
    def _ranges(self) -> AugmentConfig:
        lo, hi = self.flux_scale
        if not 0 < lo <= hi:
            raise ValueError(f"flux_scale must satisfy 0 < lo <= hi, got {self.flux_scale}")
        lo, hi = self.noise_sigma
        if not 0 <= lo <= hi:
            raise ValueError(f"noise_sigma must satisfy 0 <= lo <= hi, got {self.noise_sigma}")
        return self


class DetectorConfig(StrictModel):
    """Model, optimisation and training-loop settings of ``skysift train-detector``."""

    # --- model
    backbone: Backbone = Field("resnet18_fpn", description="backbone of the Mask R-CNN")
    trainable_layers: int = Field(
        5, ge=0, le=5, description="backbone stages trained (5 = all; 3 is usual with imagenet)"
    )
    fpn_channels: int = Field(128, ge=16, description="channels of the FPN levels")
    anchor_sizes: tuple[int, ...] = Field(
        (8, 16, 32, 64, 128),
        description="anchor side (pixels) per FPN level, finest first (5 levels)",
    )
    aspect_ratios: tuple[float, ...] = Field(
        (0.5, 1.0, 2.0), description="anchor aspect ratios (height/width), same on every level"
    )
    rpn_pre_nms_top_n_train: int = Field(600, ge=1)
    rpn_post_nms_top_n_train: int = Field(300, ge=1)
    rpn_pre_nms_top_n_test: int = Field(300, ge=1)
    rpn_post_nms_top_n_test: int = Field(150, ge=1)
    rpn_batch_size_per_image: int = Field(128, ge=1)
    box_batch_size_per_image: int = Field(128, ge=1, description="RoIs sampled per image")
    box_head_dim: int = Field(512, ge=16, description="width of the box head's last layer")
    box_detections_per_img: int = Field(50, ge=1, description="detections kept per image")
    box_score_thresh: float = Field(0.05, ge=0, le=1, description="model-internal score cut")
    box_nms_thresh: float = Field(0.5, gt=0, le=1)
    mask_roi_size: int = Field(14, ge=4, description="RoIAlign output side of the mask head")
    mask_head_layers: int = Field(2, ge=1, description="conv layers of the mask head")
    mask_head_channels: int = Field(128, ge=8, description="channels of the mask head")
    # --- initialisation
    init: Literal["random", "imagenet", "ssl"] = Field(
        "random", description="backbone initialisation; imagenet/ssl read weights_path"
    )
    weights_path: str | None = Field(
        None, description="local backbone state dict (no download ever) for init imagenet/ssl"
    )
    norm: Literal["auto", "batch", "group", "frozen"] = Field(
        "auto",
        description="trunk normalisation: auto = frozen batch-norm for pretrained weights, "
        "group norm from scratch (batch-norm statistics of 2-image batches are noise)",
    )
    # --- optimisation
    optimizer: Literal["adamw", "sgd"] = Field("adamw")
    lr: float = Field(1e-3, gt=0, description="peak learning rate")
    weight_decay: float = Field(1e-4, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    warmup_steps: int = Field(50, ge=0, description="linear warm-up from lr/100")
    schedule: Literal["cosine", "step"] = Field("cosine")
    step_milestones: tuple[float, ...] = Field(
        (0.7, 0.9), description="step schedule: fractions of max_steps where lr is cut by 10"
    )
    max_steps: int = Field(1000, ge=1, description="optimisation steps (batches)")
    batch_size: int = Field(2, ge=1)
    grad_clip: float | None = Field(5.0, gt=0, description="max gradient norm (None = off)")
    amp: bool = Field(True, description="mixed precision; only ever used on CUDA")
    # --- loop
    checkpoint_every: int = Field(100, ge=1, description="write last.pt every N steps")
    eval_every: int = Field(200, ge=1, description="validate every N steps (and at the end)")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop after N validations without improvement (None = off)"
    )
    class_balanced: bool = Field(True, description="sample images by the rarest class they contain")
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    score_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="detections below this score are dropped (val, predict); with "
        "calibrate_thresholds only for classes that cannot be calibrated",
    )
    calibrate_thresholds: bool = Field(
        True,
        description="per class, the score threshold (grid 0.05-0.95) that maximises the class's "
        "F1 on the validation split, chosen with the best model and stored in model.pt",
    )
    eval_iou: float = Field(0.5, gt=0, le=1, description="mask IoU of a match in validation")
    num_workers: int = Field(0, ge=0, description="DataLoader workers (0 = main process)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto")
    seed: int = Field(42, ge=0, description="seed of the model init, sampling, augmentation")
    tensorboard: bool = Field(False, description="also log to TensorBoard (out/tensorboard)")

    @model_validator(mode="after")
    def _consistent(self) -> DetectorConfig:
        if len(self.anchor_sizes) != 5:
            raise ValueError(
                f"anchor_sizes needs one size per FPN level (5), got {len(self.anchor_sizes)}"
            )
        if self.init != "random" and not self.weights_path:
            raise ValueError(f"init '{self.init}' needs weights_path (a local state dict file)")
        if self.init != "random" and self.norm == "group":
            raise ValueError(
                f"norm 'group' cannot take the batch-norm statistics of init '{self.init}' "
                "weights; use norm auto, frozen or batch"
            )
        return self
