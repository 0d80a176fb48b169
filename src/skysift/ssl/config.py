"""Settings of the SSL benchmark (section ``ssl`` of the project config).

Sizes are in pixels (of the map for ``cutout_pix``, of the model input for ``image_pix``),
fluxes in Jy, angles in degrees, S/N as peak / local rms. The defaults are a small CPU run;
``config/paper.yaml`` holds the full-scale settings (ResNet-50, GPU).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from skysift.data.config import ChannelSpec, NormalisationSpec, SplitFractions
from skysift.settings import StrictModel
from skysift.sky.config import SimulationConfig

SSLMethod = Literal["simclr", "byol", "dino"]
PretrainData = Literal["random", "curated"]
Protocol = Literal["knn", "linear", "finetune"]
Task = Literal["sim6", "mirabest"]
BackboneName = Literal["resnet18", "resnet50"]
SSL_METHODS: tuple[SSLMethod, ...] = ("simclr", "byol", "dino")
PRETRAIN_DATA: tuple[PretrainData, ...] = ("random", "curated")
PROTOCOLS: tuple[Protocol, ...] = ("knn", "linear", "finetune")
TASKS: tuple[Task, ...] = ("sim6", "mirabest")


def _range(value: tuple[float, float], name: str, *, lo: float = 0.0) -> None:
    if not lo <= value[0] <= value[1]:
        raise ValueError(f"{name} must satisfy {lo:g} <= low <= high, got {value}")


class LabelledSkyConfig(StrictModel):
    """Simulated maps of the labelled 6-class set: the ``simulate`` section with these counts.

    Radio galaxies and resolved sources are made more frequent than on the survey maps so that
    the rare classes (1C-3P, 2C-3P) have members; compact sources stay the largest class.
    """

    n_maps: int = Field(4, ge=1, description="maps ssl000, ssl001, ... of the labelled set")
    seed_offset: int = Field(
        500, ge=0, description="map i has seed = seed x 1000 + seed_offset + i (not a survey map)"
    )
    compact_count: int = Field(150, ge=0, description="compact sources per map")
    extended_count: int = Field(500, ge=0, description="resolved single-island sources per map")
    extended_flux_min_jy: float = Field(
        1e-3, gt=0, description="lowest integrated flux density of extended sources, Jy"
    )
    extended_irregular_fraction: float = Field(
        0.7, ge=0, le=1, description="fraction of extended sources made of 2-3 blobs"
    )
    extended_multi_count: int = Field(200, ge=0, description="FR I / FR II radio galaxies per map")
    extended_multi_flux_min_jy: float = Field(
        2e-3, gt=0, description="lowest integrated flux density of radio galaxies, Jy"
    )
    extended_multi_las_min_arcsec: float = Field(
        40.0, gt=0, description="smallest initial end-to-end size of radio galaxies, arcsec"
    )

    def simulation(self, base: SimulationConfig) -> SimulationConfig:
        """``base`` (the project's ``simulate`` section) with this set's population counts."""
        update = base.model_dump()
        update["compact"]["count"] = self.compact_count
        update["extended"].update(
            count=self.extended_count,
            flux_min_jy=self.extended_flux_min_jy,
            irregular_fraction=self.extended_irregular_fraction,
        )
        update["extended_multi"].update(
            count=self.extended_multi_count,
            flux_min_jy=self.extended_multi_flux_min_jy,
            las_min_arcsec=self.extended_multi_las_min_arcsec,
        )
        update["diffuse"]["count"] = 0
        update["spurious"]["count"] = 0
        update["n_maps"] = self.n_maps
        return SimulationConfig.model_validate(update)


class LabelledSetConfig(StrictModel):
    """Which simulated objects enter the 6-class set and how it is split."""

    min_snr: float = Field(10.0, ge=0, description="objects need peak >= min_snr x local rms")
    max_per_class: int | None = Field(
        400, ge=1, description="cap per class (random subset); null keeps the natural counts"
    )
    split: SplitFractions = Field(
        default_factory=lambda: SplitFractions(train=0.7, val=0.0, test=0.3),
        description="fractions of sky-region blocks per split (no object or pixel shared)",
    )
    region_block_pix: int = Field(512, ge=16, description="side of the sky-region blocks, pixels")


class UnlabelledConfig(StrictModel):
    """Unlabelled pretraining cutouts: random positions and source-centred (curated)."""

    n_random: int = Field(2000, ge=1, description="random cutouts over all survey maps")
    n_curated: int = Field(2000, ge=1, description="most source-centred cutouts kept")
    curated_min_snr: float = Field(
        5.0, ge=0, description="catalogue sources need snr >= this to be a curated centre"
    )
    min_valid_fraction: float = Field(
        0.9, ge=0, le=1, description="cutouts need this fraction of finite (unblanked) pixels"
    )
    first_cutouts_dir: str | None = Field(
        None,
        description="folder of FIRST SkyView cutouts (FITS) added to the unlabelled sets; "
        "null: none (e.g. ../shared/data/first_cutouts)",
    )
    exclude_mirabest_test: bool = Field(
        True,
        description="drop FIRST cutouts whose file name is a MiraBest test image (no leakage)",
    )


class ViewConfig(StrictModel):
    """Radio augmentations of the SSL views (and of fine-tuning), never RGB photo defaults.

    Order: rotation by any angle, flips, random resized crop (inside the central
    ``crop_fraction`` of the cutout, so rotation corners never show), flux scaling and added
    noise on the raw pixels, then the one normaliser with, per channel, a random stretch.
    """

    rotate: bool = Field(True, description="random rotation by any angle (deg uniform 0-360)")
    flips: bool = Field(True, description="random horizontal and vertical flips")
    crop_scale: tuple[float, float] = Field(
        (0.6, 1.0), description="area fraction of the random crop (no tiny crops: sources)"
    )
    crop_ratio: tuple[float, float] = Field(
        (0.8, 1.25), description="aspect ratio range of the random crop"
    )
    flux_scale: tuple[float, float] = Field(
        (0.5, 2.0), description="multiplicative flux factor range (1, 1 = off)"
    )
    noise_sigma: tuple[float, float] = Field(
        (0.0, 0.5), description="added white noise sigma, in units of the cutout's robust rms"
    )
    stretch_probability: float = Field(
        0.5, ge=0, le=1, description="per channel: chance of a random stretch from the choices"
    )
    stretch_choices: list[ChannelSpec] = Field(
        default_factory=lambda: [
            ChannelSpec(method="zscale"),
            ChannelSpec(method="asinh"),
            ChannelSpec(method="sigma_clip"),
            ChannelSpec(method="log"),
            ChannelSpec(method="minmax"),
        ],
        min_length=1,
        description="stretches a channel may take instead of its own (same normaliser)",
    )
    local_crops: int = Field(2, ge=0, description="DINO: extra small local views per image")
    local_crop_scale: tuple[float, float] = Field(
        (0.25, 0.5), description="DINO: area fraction of the local crops"
    )
    local_image_pix: int = Field(16, ge=8, description="DINO: side of the local views, pixels")

    @model_validator(mode="after")
    def _ranges(self) -> ViewConfig:
        _range(self.crop_scale, "crop_scale", lo=0.05)
        _range(self.local_crop_scale, "local_crop_scale", lo=0.01)
        _range(self.crop_ratio, "crop_ratio", lo=0.1)
        _range(self.noise_sigma, "noise_sigma")
        if not 0 < self.flux_scale[0] <= self.flux_scale[1]:
            raise ValueError(f"flux_scale must satisfy 0 < low <= high, got {self.flux_scale}")
        if self.crop_scale[1] > 1 or self.local_crop_scale[1] > 1:
            raise ValueError("crop scales are area fractions: at most 1")
        return self


class PretrainConfig(StrictModel):
    """Self-supervised pretraining (``skysift ssl-pretrain``), cosine learning rate to zero."""

    methods: list[SSLMethod] = Field(
        default_factory=lambda: list(SSL_METHODS), description="lightly methods"
    )
    datasets: list[PretrainData] = Field(
        default_factory=lambda: list(PRETRAIN_DATA),
        description="unlabelled sets to pretrain on (strategies c and d)",
    )
    max_steps: int = Field(300, ge=1, description="optimisation steps (batches)")
    batch_size: int = Field(64, ge=2, description="images per batch (two views each)")
    lr: float = Field(1e-3, gt=0, description="peak AdamW learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay")
    warmup_steps: int = Field(10, ge=0, description="linear warm-up steps from lr/100")
    projection_dim: int = Field(128, ge=8, description="SimCLR/BYOL projection output size")
    hidden_dim: int = Field(512, ge=8, description="hidden width of the projection heads")
    temperature: float = Field(0.2, gt=0, description="SimCLR NT-Xent temperature")
    ema_momentum: float = Field(
        0.99, gt=0, lt=1, description="BYOL/DINO teacher momentum at step 0 (cosine to 1)"
    )
    dino_output_dim: int = Field(1024, ge=8, description="DINO prototypes (head output size)")
    dino_teacher_temp: float = Field(0.04, gt=0, description="DINO teacher temperature")
    dino_student_temp: float = Field(0.1, gt=0, description="DINO student temperature")
    num_workers: int = Field(
        0, ge=0, description="processes making the radio views (0: the training process)"
    )
    checkpoint_every: int = Field(
        200, ge=1, description="steps between full-state checkpoints (last.pt, for resume)"
    )
    log_every: int = Field(50, ge=1, description="steps between progress lines in the log")


class ProbeConfig(StrictModel):
    """Frozen-feature protocols: weighted kNN and a linear classifier."""

    knn_k: int = Field(20, ge=1, description="neighbours of the kNN vote (cosine similarity)")
    knn_temperature: float = Field(0.07, gt=0, description="kNN vote weights exp(sim / T)")
    linear_steps: int = Field(300, ge=1, description="full-batch AdamW steps of the probe")
    linear_lr: float = Field(0.01, gt=0, description="probe peak learning rate (cosine to 0)")
    linear_weight_decay: float = Field(1e-4, ge=0, description="probe weight decay")


class FinetuneConfig(StrictModel):
    """Fine-tuning the whole backbone with a linear head (also: supervised from scratch)."""

    max_steps: int = Field(200, ge=1, description="optimisation steps; same for every fraction")
    batch_size: int = Field(32, ge=2, description="labelled images per batch")
    lr: float = Field(1e-3, gt=0, description="peak AdamW learning rate (cosine to zero)")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay")
    warmup_steps: int = Field(10, ge=0, description="linear warm-up steps from lr/100")
    augment: Literal["none", "flips", "views"] = Field(
        "flips",
        description="training-image augmentation: flips + 90-degree rotations of the "
        "preprocessed input (cheap), the full radio views (see `views`; slow on CPU), or none",
    )
    class_balanced: bool = Field(True, description="sample training images by inverse frequency")


class SSLConfig(StrictModel):
    """The whole SSL benchmark: data, views, pretraining, downstream protocols."""

    backbone: BackboneName = Field("resnet18", description="torchvision ResNet trunk")
    cutout_pix: int = Field(64, ge=16, description="side of the cutouts taken from maps, pixels")
    image_pix: int = Field(64, ge=16, description="model input side after resizing, pixels")
    crop_fraction: float = Field(
        0.68,
        gt=0.2,
        le=1.0,
        description="central fraction of the cutout side the model sees (0.68: free of "
        "rotation corners at any angle)",
    )
    normalisation: NormalisationSpec = Field(
        default_factory=NormalisationSpec,
        description="the one normaliser's channels; keep equal to cutouts.normalisation so "
        "the exported backbone fits the detector",
    )
    labelled_sky: LabelledSkyConfig = Field(default_factory=LabelledSkyConfig)
    labelled: LabelledSetConfig = Field(default_factory=LabelledSetConfig)
    unlabelled: UnlabelledConfig = Field(default_factory=UnlabelledConfig)
    views: ViewConfig = Field(default_factory=ViewConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    tasks: list[Task] = Field(
        default_factory=lambda: list(TASKS),
        description="downstream tasks: simulated RGZ 6 classes, MiraBest Confident FR I/II",
    )
    mirabest_dir: str | None = Field(
        None,
        description="folder of the MiraBest batches; null: ../shared/data/mirabest, else the "
        "fetch cache (skysift fetch-data mirabest)",
    )
    imagenet_weights: str | None = Field(
        None,
        description="local torchvision ImageNet state dict of the backbone (strategy a); "
        "null: reported as skipped",
    )
    protocols: list[Protocol] = Field(
        default_factory=lambda: list(PROTOCOLS), description="downstream protocols"
    )
    label_fractions: list[float] = Field(
        default_factory=lambda: [0.01, 0.1, 1.0],
        min_length=1,
        description="fractions of the training labels used (stratified, >= 1 per class)",
    )
    seeds: list[int] = Field(
        default_factory=lambda: [0, 1, 2], min_length=1, description="seeds of label subsets"
    )
    batch_size_eval: int = Field(128, ge=1, description="images per batch for features")
    explain_per_class: int = Field(4, ge=1, description="ssl-explain: test images per class")
    explain_steps: int = Field(32, ge=2, description="ssl-explain: Integrated Gradients steps")
    embedding: Literal["umap", "pca"] = Field(
        "umap", description="2-D map of the test features: UMAP, or PCA (no numba compilation)"
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="cuda when available")
    seed: int = Field(42, ge=0, description="seed of data draws, model init and views")

    @model_validator(mode="after")
    def _consistent(self) -> SSLConfig:
        bad = [f for f in self.label_fractions if not 0 < f <= 1]
        if bad:
            raise ValueError(f"label_fractions must lie in (0, 1], got {bad}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        if self.views.local_image_pix > self.image_pix:
            raise ValueError("views.local_image_pix must not exceed image_pix")
        return self

    def strategies(self) -> list[str]:
        """Strategy names in table order: imagenet, scratch, ssl_<data>_<method> ..."""
        names = ["imagenet", "scratch"]
        names += [f"ssl_{d}_{m}" for d in self.pretrain.datasets for m in self.pretrain.methods]
        return names
