"""Settings of the baseline finders (section ``baselines`` of the project config).

Thresholds are in units of the local noise rms; sizes of the noise boxes in pixels.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from skysift.settings import StrictModel


class ConversionConfig(StrictModel):
    """How a finder's components become catalogue rows of the truth columns."""

    resolved_fraction: float = Field(
        0.5,
        gt=0,
        description="a single-component source is 'extended' when its deconvolved major FWHM "
        "exceeds this fraction of the beam major FWHM, else 'compact'",
    )
    mask_level: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="ellipse masks (Aegean) reach the contour where the fitted Gaussian falls to "
        "this fraction of its peak (0.05 = the simulator's peak_fraction)",
    )


class PyBDSFConfig(StrictModel):
    """Options passed to ``bdsf.process_image``."""

    thresh_isl: float = Field(3.0, gt=0, description="island boundary threshold (sigma)")
    thresh_pix: float = Field(5.0, gt=0, description="source detection threshold (sigma)")
    rms_box: tuple[int, int] | None = Field(
        None, description="(box, step) in pixels of the rms map; null = PyBDSF's own choice"
    )
    ncores: int = Field(1, ge=1, description="CPU cores PyBDSF uses for fitting")

    @model_validator(mode="after")
    def _ordered(self) -> PyBDSFConfig:
        if self.thresh_isl > self.thresh_pix:
            raise ValueError(
                f"thresh_isl ({self.thresh_isl}) exceeds thresh_pix ({self.thresh_pix}); "
                "islands must reach below the detection threshold"
            )
        return self


class AegeanConfig(StrictModel):
    """Options of BANE (background and noise) and Aegean (component finding)."""

    seedclip: float = Field(5.0, gt=0, description="seed (detection) threshold in sigma")
    floodclip: float = Field(4.0, gt=0, description="flood (island) threshold in sigma")
    max_summits: int | None = Field(
        None, ge=1, description="fit at most this many components per island; null = all"
    )
    bane_grid_pix: int | None = Field(
        None, ge=1, description="BANE grid step in pixels; null = BANE's default (~4 beams)"
    )
    bane_box_pix: int | None = Field(
        None, ge=1, description="BANE box size in pixels; null = 6 x the grid step"
    )
    cores: int = Field(1, ge=1, description="CPU cores for BANE and Aegean")

    @model_validator(mode="after")
    def _ordered(self) -> AegeanConfig:
        if self.floodclip > self.seedclip:
            raise ValueError(
                f"floodclip ({self.floodclip}) exceeds seedclip ({self.seedclip}); "
                "islands must reach below the seed threshold"
            )
        return self


class BaselineConfig(StrictModel):
    """Settings of ``skysift run-baseline`` (section ``baselines``)."""

    pybdsf: PyBDSFConfig = Field(default_factory=PyBDSFConfig)
    aegean: AegeanConfig = Field(default_factory=AegeanConfig)
    conversion: ConversionConfig = Field(default_factory=ConversionConfig)
