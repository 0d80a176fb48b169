"""Settings of map ingestion (section ``ingest`` of the project config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from skysift.settings import StrictModel


class MapEntry(StrictModel):
    """One real map to ingest, with what its header may lack."""

    name: str = Field(
        ...,
        pattern=r"^[A-Za-z0-9_.+-]+$",
        description="short name of the map: output folder name and catalogue 'map' column",
    )
    path: str = Field(..., description="FITS file of the map")
    survey: str | None = Field(
        None, description="known survey (FIRST, NVSS, RACS-low ...) giving beam and frequency"
    )
    bmaj_arcsec: float | None = Field(None, gt=0, description="beam major axis FWHM [arcsec]")
    bmin_arcsec: float | None = Field(None, gt=0, description="beam minor axis FWHM [arcsec]")
    bpa_deg: float | None = Field(None, description="beam position angle east of north [deg]")
    frequency_hz: float | None = Field(None, gt=0, description="map frequency [Hz]")
    annotations: str | None = Field(
        None, description="user labels: a CSV/FITS catalogue or a DS9 region file (.reg)"
    )

    @model_validator(mode="after")
    def _beam_complete(self) -> MapEntry:
        if (self.bmin_arcsec is not None or self.bpa_deg is not None) and self.bmaj_arcsec is None:
            raise ValueError("bmin_arcsec/bpa_deg given without bmaj_arcsec")
        if (
            self.bmaj_arcsec is not None
            and self.bmin_arcsec is not None
            and self.bmin_arcsec > self.bmaj_arcsec
        ):
            raise ValueError("bmin_arcsec must not exceed bmaj_arcsec")
        return self

    def ingest_arguments(self) -> list[str]:
        """Flags of ``skysift ingest-map`` that carry this entry's beam, survey and frequency."""
        args: list[str] = []
        if self.survey:
            args += ["--survey", self.survey]
        if self.bmaj_arcsec is not None:
            bmin = self.bmin_arcsec if self.bmin_arcsec is not None else self.bmaj_arcsec
            args += ["--beam", repr(self.bmaj_arcsec), repr(bmin), repr(self.bpa_deg or 0.0)]
        if self.frequency_hz is not None:
            args += ["--frequency", repr(self.frequency_hz)]
        return args

    def annotation_flag(self) -> str:
        """``--regions`` for a DS9 file (``.reg``), else ``--catalogue``."""
        if self.annotations and self.annotations.lower().endswith(".reg"):
            return "--regions"
        return "--catalogue"


class BackgroundConfig(StrictModel):
    """Mesh background and rms estimation (photutils Background2D)."""

    box_beams: float = Field(20.0, gt=0, description="mesh box side in beam major axes (FWHM)")
    filter_size: int = Field(3, ge=1, description="median filter of the mesh, in boxes (odd)")
    sigma: float = Field(3.0, gt=0, description="sigma-clipping threshold in each box")
    maxiters: int = Field(10, ge=1, description="sigma-clipping iterations")
    estimator: Literal["median", "sextractor"] = Field(
        "median", description="background statistic of each box"
    )
    exclude_percentile: float = Field(
        50.0,
        ge=0,
        le=100,
        description="boxes with more masked (blank or clipped) pixels [%] are interpolated",
    )

    @field_validator("filter_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("filter_size must be odd")
        return value


class IngestConfig(StrictModel):
    """Real maps in: which maps, optional common pixel scale, background/rms, annotations."""

    maps: list[MapEntry] = Field(default_factory=list, description="real maps to ingest")
    pixel_scale_arcsec: float | None = Field(
        None, gt=0, description="reproject every map to this pixel scale [arcsec]; null = keep"
    )
    background: BackgroundConfig = Field(default_factory=BackgroundConfig)
    mask_scale: float = Field(
        1.5,
        gt=0,
        description="semi-axes of elliptical annotation masks in units of the source FWHM "
        "(1.5 holds 99.8% of a Gaussian's flux)",
    )
    peak_sigma: float = Field(
        5.0, gt=0, description="local maxima above this many rms count in n_peaks"
    )
    annotation_masks: Literal["shape", "islands"] = Field(
        "shape",
        description="masks of imported annotations: shape (the catalogue ellipse, the region, "
        "or --masks) | islands (the whole islands of emission >= island_snr x local rms that "
        "overlap that shape; a shape over no island stays as it is)",
    )
    island_snr: float = Field(
        3.0, gt=0, description="island threshold of annotation_masks: islands, in local rms"
    )
    island_peak_snr: float = Field(
        5.0,
        gt=0,
        description="an island counts only if its peak reaches this many local rms (noise "
        "islands above island_snr are common; above 5 rms they are rare)",
    )

    @field_validator("maps")
    @classmethod
    def _unique_names(cls, value: list[MapEntry]) -> list[MapEntry]:
        names = [entry.name for entry in value]
        if len(set(names)) != len(names):
            raise ValueError("map names must be distinct")
        return value
