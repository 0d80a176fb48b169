"""Settings of the SED analysis after synthesis: embedding, clustering, attributions, user
catalogues and the validation on real stars (sub-sections ``sed.embed``, ``sed.cluster``,
``sed.explain``, ``sed.catalogue``, ``sed.validation`` of the project config).

Units: temperatures in K, extinction A_V and E(B-V) in mag, wavelengths in micrometres, learning
rates per optimizer step; band names are those of ``sed.bands`` (``bands.json``).
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import Field, model_validator

from skysift.settings import StrictModel

#: Teff edges (K) of the spectral classes M, K, G, F, A, B, O: the "binned Teff" labels.
SPECTRAL_TEFF_BINS: tuple[float, ...] = (
    2500.0,
    3900.0,
    5300.0,
    6000.0,
    7500.0,
    10000.0,
    30000.0,
    50000.0,
)

Embedding = Literal["ae", "pca", "umap"]


def _all_embeddings() -> list[Embedding]:
    return ["ae", "pca", "umap"]


def _increasing(name: str, edges: list[float]) -> None:
    if len(edges) < 3 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"{name} must be at least 3 strictly increasing edges")


class EmbedConfig(StrictModel):
    """Features of the SED table and the embeddings learnt from them (``skysift sed-embed``)."""

    bands: list[str] | None = Field(
        None,
        description="bands used as features, null: every band of the SED table; a band absent "
        "from a catalogue is masked for all its objects",
    )
    normalisation: Literal["log_flux", "colours"] = Field(
        "log_flux",
        description="log_flux: -0.4 (m_b - m_ref), log10 of each band's flux relative to the "
        "reference band (Vega units); colours: adjacent colours m_i - m_i+1 in wavelength "
        "order (Vega mag), missing when either band is",
    )
    reference_band: str = Field(
        "G",
        description="band that log_flux features are relative to; objects without it are "
        "not embedded",
    )
    min_bands: int = Field(
        3, ge=2, le=50, description="objects with fewer observed bands are not embedded"
    )
    embeddings: list[Embedding] = Field(
        default_factory=_all_embeddings,
        min_length=1,
        description="embeddings to build: ae (masked autoencoder), pca and umap (both on "
        "standardised features with missing entries set to the mean)",
    )
    n_components: int = Field(
        4, ge=2, le=32, description="dimension of every embedding (AE latent, PCA, UMAP)"
    )
    hidden: list[int] = Field(
        default_factory=lambda: [64, 64],
        min_length=1,
        description="hidden layer widths of the AE encoder (the decoder mirrors them)",
    )
    epochs: int = Field(150, ge=1, le=100_000, description="AE training epochs")
    batch_size: int = Field(256, ge=8, le=1_000_000, description="AE batch size (objects)")
    learning_rate: float = Field(2e-3, gt=0, le=1, description="AdamW learning rate")
    weight_decay: float = Field(1e-5, ge=0, le=1, description="AdamW weight decay")
    band_dropout: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="probability that an observed feature is hidden from the encoder in "
        "training (still scored), so the AE learns to cope with missing bands",
    )
    val_fraction: float = Field(
        0.1, ge=0.01, le=0.5, description="objects held out to pick the best AE epoch"
    )
    log_every: int = Field(10, ge=1, description="log the losses every this many epochs")
    threads: int = Field(1, ge=1, le=256, description="torch CPU threads")
    umap_neighbors: int = Field(15, ge=2, le=500, description="UMAP n_neighbors")
    umap_min_dist: float = Field(
        0.0, ge=0, le=1, description="UMAP min_dist (0: tight clumps, best for clustering)"
    )
    umap_fit_max: int = Field(
        20_000,
        ge=100,
        description="UMAP is fitted on at most this many objects (random, seeded); the rest "
        "are transformed",
    )


class ClusterConfig(StrictModel):
    """HDBSCAN and a BIC-chosen Gaussian mixture on every embedding (``skysift sed-cluster``)."""

    min_cluster_size: int = Field(50, ge=2, description="HDBSCAN min_cluster_size (objects)")
    min_samples: int | None = Field(
        None, ge=1, description="HDBSCAN min_samples, null: min_cluster_size"
    )
    selection: Literal["eom", "leaf"] = Field("eom", description="HDBSCAN cluster_selection_method")
    gmm_max_components: int = Field(
        15, ge=1, le=100, description="largest Gaussian mixture tried; BIC picks 1..this"
    )
    gmm_covariance: Literal["full", "diag"] = Field("full", description="GMM covariance type")
    gmm_n_init: int = Field(2, ge=1, le=20, description="GMM restarts per component count")
    gmm_fit_max: int = Field(
        50_000, ge=100, description="GMMs are fitted on at most this many objects (seeded)"
    )
    teff_bins: list[float] = Field(
        default_factory=lambda: list(SPECTRAL_TEFF_BINS),
        description="Teff edges in K of the binned-Teff labels (default: spectral classes "
        "M K G F A B O)",
    )
    av_bins: list[float] = Field(
        default_factory=lambda: [0.0, 0.5, 1.0, 2.0, 30.0],
        description="A_V edges in mag of the binned-extinction labels",
    )
    primary: str = Field(
        "ae_gmm",
        description="clustering <embedding>_<hdbscan|gmm> shown in the parameter figure and "
        "explained by sed-explain",
    )

    @model_validator(mode="after")
    def _check(self) -> ClusterConfig:
        _increasing("teff_bins", self.teff_bins)
        _increasing("av_bins", self.av_bins)
        emb, _, method = self.primary.partition("_")
        if emb not in ("ae", "pca", "umap") or method not in ("hdbscan", "gmm"):
            raise ValueError(f"primary must be <ae|pca|umap>_<hdbscan|gmm>, got {self.primary!r}")
        return self


class ExplainConfig(StrictModel):
    """Classifier on cluster labels and its Integrated Gradients (``skysift sed-explain``)."""

    clustering: str | None = Field(
        None, description="clustering to explain, <embedding>_<method>; null: cluster.primary"
    )
    hidden: list[int] = Field(
        default_factory=lambda: [64, 64], min_length=1, description="classifier hidden widths"
    )
    epochs: int = Field(80, ge=1, le=100_000, description="classifier training epochs")
    batch_size: int = Field(256, ge=8, description="classifier batch size")
    learning_rate: float = Field(2e-3, gt=0, le=1, description="AdamW learning rate")
    n_steps: int = Field(64, ge=4, le=1024, description="Integrated Gradients steps")
    per_cluster: int = Field(
        200, ge=1, description="members explained per cluster (random, seeded)"
    )
    mid_ir_bands: list[str] = Field(
        default_factory=lambda: ["W3", "W4", "I1", "I2", "I3", "I4"],
        description="bands counted as mid-infrared (3.6-22 um) in the attribution shares",
    )
    dusty_fraction: float = Field(
        0.5, gt=0, le=1, description="a cluster is dusty when this fraction of members has a shell"
    )

    @model_validator(mode="after")
    def _check(self) -> ExplainConfig:
        if self.clustering is not None:
            ClusterConfig(primary=self.clustering)
        return self


class BandColumn(StrictModel):
    """Where one band's magnitude is in a user catalogue, and in which system."""

    column: str = Field(..., description="column holding the magnitude (mag)")
    system: Literal["vega", "ab"] = Field("vega", description="magnitude system of the column")
    error_column: str | None = Field(
        None,
        description="column of the magnitude's 1-sigma error (mag) for the template fit; null: "
        "err_<band> when the file has it, else template_fit.default_error_mag",
    )


class TemplateFitConfig(StrictModel):
    """Bayesian SED fit of the catalogue against the synthetic SEDs (``sed-classify``): Teff,
    A_V and dust probability per star, with a population prior learnt from the catalogue."""

    enabled: bool = Field(True, description="fit the catalogue against the synthetic SEDs")
    prior: Literal["population", "flat"] = Field(
        "population",
        description="population: template-cell weights fitted to the catalogue's photometry by "
        "EM (no labels); flat: the synthetic population as drawn",
    )
    systematic_mag: float = Field(
        0.02, ge=0.0, description="model error added in quadrature to each band's error (mag)"
    )
    default_error_mag: float = Field(
        0.05, gt=0.0, description="error (mag) of a magnitude without one"
    )
    min_bands: int = Field(3, ge=2, description="fewest bands of a fitted star")
    top_k: int = Field(256, ge=1, le=100000, description="most likely templates kept per star")
    teff_cells: int = Field(16, ge=1, description="log10 Teff bins of the population prior")
    av_cells: int = Field(6, ge=1, description="A_V bins of the population prior")
    iterations: int = Field(50, ge=1, description="most EM iterations of the population prior")


class CatalogueConfig(StrictModel):
    """A user's photometric catalogue to classify (``skysift sed-classify``)."""

    path: str | None = Field(
        None,
        description="CSV or FITS table; null: the Green et al. (2021) stars in "
        "../shared/data/stars/green2020 (or $SKYSIFT_SHARED_DATA/stars/green2020)",
    )
    format: Literal["auto", "csv", "fits"] = Field(
        "auto", description="table format; auto: from the file name"
    )
    id_column: str | None = Field(None, description="object id column, null: row number")
    bands: dict[str, BandColumn] = Field(
        default_factory=dict,
        description="band name (as in bands.json) -> magnitude column and system; empty: "
        "columns mag_<band> in the Vega system",
    )
    missing_values: list[float] = Field(
        default_factory=lambda: [-99.0, 99.0, -999.0, -9999.0],
        description="magnitudes meaning 'missing' besides NaN, empty and masked cells",
    )
    keep_columns: list[str] = Field(
        default_factory=list, description="columns copied to the output catalogue"
    )
    neighbours: int = Field(
        20, ge=1, le=1000, description="synthetic neighbours of the embedding-kNN Teff"
    )
    template_fit: TemplateFitConfig = Field(default_factory=TemplateFitConfig)


class ValidateConfig(StrictModel):
    """Scores of a classified catalogue against its own labels (``skysift sed-validate``)."""

    teff_column: str = Field("teff", description="spectroscopic Teff column (K)")
    ebv_column: str = Field("E_prior", description="reddening E(B-V) column (mag)")
    teff_bins: list[float] = Field(
        default_factory=lambda: [
            2500.0,
            4000.0,
            4500.0,
            5000.0,
            5500.0,
            6000.0,
            6500.0,
            7000.0,
            50000.0,
        ],
        description="Teff edges in K of the binned-Teff labels (default: 500 K bins over the "
        "FGK range of the Green et al. stars)",
    )
    ebv_bins: list[float] = Field(
        default_factory=lambda: [0.0, 0.05, 0.15, 0.4, 10.0],
        description="E(B-V) edges in mag of the binned-reddening labels",
    )
    baseline_colour: tuple[str, str] = Field(
        ("G", "Ks"), description="bands of the colour in the polynomial colour-Teff baseline"
    )
    baseline_degree: int = Field(3, ge=1, le=9, description="degree of that polynomial")
    raw_colour_bands: list[str] = Field(
        default_factory=lambda: ["BP", "G", "RP", "J", "H", "Ks"],
        description="bands whose adjacent colours HDBSCAN clusters directly (the raw-colour "
        "baseline; objects missing any are left out of it)",
    )
    raw_min_cluster_size: int = Field(
        200, ge=2, description="HDBSCAN min_cluster_size of the raw-colour baseline (objects)"
    )

    @model_validator(mode="after")
    def _check(self) -> ValidateConfig:
        _increasing("teff_bins", self.teff_bins)
        _increasing("ebv_bins", self.ebv_bins)
        return self
