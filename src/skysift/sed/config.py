"""Settings of the synthetic stellar SEDs (section ``sed`` of the project config).

Temperatures in K, log g in log10(cm s-2), [M/H] in dex, distances in pc, extinction A_V and
magnitudes in mag (Vega system unless named ``_ab``), wavelengths in micrometres.
The default bands are Gaia DR2 G/BP/RP, 2MASS J/H/Ks, WISE W1-W4 and Spitzer IRAC 1-4, with
5-sigma limits and error floors typical of the all-sky catalogues (Gaia DR2, 2MASS PSC,
AllWISE, GLIMPSE-like IRAC).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from skysift.sed.analysis_config import (
    CatalogueConfig,
    ClusterConfig,
    EmbedConfig,
    ExplainConfig,
    ValidateConfig,
)
from skysift.settings import StrictModel

#: Sub-sections of ``sed`` read by the stages after sed-synth (not by sed-synth itself).
ANALYSIS_SECTIONS = ("embed", "cluster", "explain", "catalogue", "validation")


class BandConfig(StrictModel):
    """One photometric band: its pyphot passband and its error / completeness model.

    The magnitude error is ``sqrt(floor**2 + (1.0857 / snr)**2)`` with
    ``snr = 5 * 10**(-0.4 * (mag - mag_limit))``: 0.217 mag at the 5-sigma limit.
    """

    pyphot_name: str = Field(..., description="passband name in pyphot's library")
    mag_limit: float = Field(
        ..., gt=-5, lt=40, description="5-sigma limiting magnitude (Vega system)"
    )
    error_floor: float = Field(
        0.02, ge=0, le=1, description="systematic error floor in mag, added in quadrature"
    )
    missing_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="fraction of objects without this band at random (coverage, artefacts), "
        "besides non-detections fainter than mag_limit",
    )


def _default_bands() -> dict[str, BandConfig]:
    spec: tuple[tuple[str, str, float, float, float], ...] = (
        ("G", "GaiaDR2v2_G", 21.0, 0.003, 0.0),
        ("BP", "GaiaDR2v2_BP", 20.5, 0.005, 0.03),
        ("RP", "GaiaDR2v2_RP", 20.0, 0.005, 0.03),
        ("J", "2MASS_J", 16.55, 0.02, 0.05),
        ("H", "2MASS_H", 15.85, 0.02, 0.07),
        ("Ks", "2MASS_Ks", 15.05, 0.02, 0.08),
        ("W1", "WISE_RSR_W1", 16.9, 0.02, 0.05),
        ("W2", "WISE_RSR_W2", 15.95, 0.02, 0.05),
        ("W3", "WISE_RSR_W3", 11.6, 0.03, 0.05),
        ("W4", "WISE_RSR_W4", 8.05, 0.05, 0.05),
        ("I1", "SPITZER_IRAC_36", 15.5, 0.03, 0.5),
        ("I2", "SPITZER_IRAC_45", 15.0, 0.03, 0.5),
        ("I3", "SPITZER_IRAC_58", 13.0, 0.03, 0.5),
        ("I4", "SPITZER_IRAC_80", 12.0, 0.03, 0.5),
    )
    return {
        name: BandConfig(pyphot_name=pp, mag_limit=lim, error_floor=floor, missing_rate=rate)
        for name, pp, lim, floor, rate in spec
    }


class SedConfig(StrictModel):
    """How many SEDs, from which parameter ranges, through which bands."""

    n_seds: int = Field(2000, ge=1, le=10_000_000, description="number of synthetic SEDs")
    grid_path: str | None = Field(
        None,
        description="ck04_subset.npz or its folder; null: ../shared/data/ck04 (or "
        "$SKYSIFT_SHARED_DATA/ck04), then the fetch cache (`skysift fetch-data ck04`)",
    )
    bands: dict[str, BandConfig] = Field(
        default_factory=_default_bands,
        min_length=1,
        description="band name -> passband and error model, in output order",
    )
    teff_min: float = Field(2500.0, ge=2500, le=50000, description="lowest Teff in K")
    teff_max: float = Field(40000.0, ge=2500, le=50000, description="highest Teff in K")
    teff_distribution: Literal["loguniform", "uniform"] = Field(
        "loguniform", description="distribution of Teff between teff_min and teff_max"
    )
    giant_fraction: float = Field(
        0.3,
        ge=0,
        le=1,
        description="fraction drawn as giants (log g uniform in giant_logg); the others are "
        "dwarfs (log g uniform in dwarf_logg)",
    )
    dwarf_logg: tuple[float, float] = Field((3.8, 5.0), description="dwarf log g range (cgs)")
    giant_logg: tuple[float, float] = Field((0.5, 3.5), description="giant log g range (cgs)")
    feh_min: float = Field(-1.0, ge=-1.0, le=0.2, description="lowest [M/H] in dex")
    feh_max: float = Field(0.2, ge=-1.0, le=0.2, description="highest [M/H] in dex")
    distance_min_pc: float = Field(100.0, gt=0, description="nearest distance in pc")
    distance_max_pc: float = Field(10000.0, gt=0, description="farthest distance in pc")
    distance_distribution: Literal["loguniform", "volume"] = Field(
        "loguniform", description="log-uniform, or uniform in volume (p(d) ~ d^2)"
    )
    av_min: float = Field(0.0, ge=0, description="smallest interstellar A_V in mag")
    av_max: float = Field(3.0, ge=0, le=30, description="largest interstellar A_V in mag")
    r_v: float = Field(3.1, ge=2.3, le=5.6, description="R_V of the extinction curve")
    extinction_curve: str = Field(
        "G23",
        description="dust_extinction.parameter_averages model; it must cover every band "
        "(G23: 0.0912-32 um)",
    )
    dust_fraction: float = Field(
        0.3, ge=0, le=1, description="fraction of stars with a circumstellar dust shell"
    )
    dust_tau_min: float = Field(0.05, gt=0, description="smallest shell optical depth at V")
    dust_tau_max: float = Field(5.0, gt=0, description="largest shell optical depth at V")
    dust_temp_min: float = Field(300.0, ge=50, le=2000, description="coolest dust in K")
    dust_temp_max: float = Field(1500.0, ge=50, le=2000, description="hottest dust in K")
    dust_beta: float = Field(
        1.0, ge=0, le=3, description="grain opacity index: kappa ~ lambda^-beta"
    )
    cool_band_depth: float = Field(
        0.5,
        ge=0,
        lt=1,
        description="depth at 2500 K of the TiO/H2O depressions of the cool-star extension "
        "(linear in Teff, 0 at 3500 K)",
    )
    drop_below_limit: bool = Field(
        True, description="treat magnitudes fainter than a band's mag_limit as missing"
    )
    chunk_size: int = Field(
        2000, ge=1, le=1_000_000, description="SEDs per vectorised batch (memory ~ 25 kB each)"
    )
    n_examples: int = Field(6, ge=0, le=50, description="example SEDs drawn in the figure")
    embed: EmbedConfig = Field(default_factory=EmbedConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    explain: ExplainConfig = Field(default_factory=ExplainConfig)
    catalogue: CatalogueConfig = Field(default_factory=CatalogueConfig)
    validation: ValidateConfig = Field(default_factory=ValidateConfig)

    @model_validator(mode="after")
    def _ranges(self) -> SedConfig:
        pairs = (
            ("teff", self.teff_min, self.teff_max),
            ("feh", self.feh_min, self.feh_max),
            ("distance", self.distance_min_pc, self.distance_max_pc),
            ("av", self.av_min, self.av_max),
            ("dust_tau", self.dust_tau_min, self.dust_tau_max),
            ("dust_temp", self.dust_temp_min, self.dust_temp_max),
            ("dwarf_logg", *self.dwarf_logg),
            ("giant_logg", *self.giant_logg),
        )
        for name, lo, hi in pairs:
            if lo > hi:
                raise ValueError(f"{name}: minimum {lo} exceeds maximum {hi}")
        for name, (lo, hi) in (("dwarf_logg", self.dwarf_logg), ("giant_logg", self.giant_logg)):
            if lo < 0 or hi > 5:
                raise ValueError(f"{name} must lie within the grid's 0-5")
        return self
