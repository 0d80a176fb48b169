"""Settings of the sky simulator (section ``simulate`` of the project config).

The defaults describe a small, realistic demo map: 1024 x 1024 pixels of 2 arcsec (34 arcmin
on a side) at 943.5 MHz with a 12 x 10 arcsec beam and 30 uJy/beam noise, i.e. an ASKAP/EMU-like
field, with power-law source counts that reach below the noise so the faint end is honest.
Fluxes are in Jy, sizes in arcsec, angles in degrees east of north.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from skysift.settings import StrictModel

Projection = Literal["SIN", "TAN", "NCP", "ARC", "ZEA", "STG", "CAR"]


class GeometryConfig(StrictModel):
    """Pixel grid, sky position and frequency of a simulated map."""

    nx: int = Field(1024, ge=32, le=32768, description="map width in pixels")
    ny: int = Field(1024, ge=32, le=32768, description="map height in pixels")
    pixel_scale_arcsec: float = Field(2.0, gt=0, description="pixel side in arcsec (square)")
    ra_deg: float = Field(
        150.0, ge=0, lt=360, description="CRVAL1: right ascension of the centre (deg)"
    )
    dec_deg: float = Field(
        -30.0, ge=-90, le=90, description="CRVAL2: declination of the centre (deg)"
    )
    projection: Projection = Field("SIN", description="FITS celestial projection code")
    frequency_hz: float = Field(
        943.5e6, gt=0, description="observing frequency in Hz (RESTFRQ, FREQ)"
    )


class BeamConfig(StrictModel):
    """Elliptical Gaussian restoring beam."""

    bmaj_arcsec: float = Field(12.0, gt=0, description="beam major axis FWHM in arcsec")
    bmin_arcsec: float = Field(10.0, gt=0, description="beam minor axis FWHM in arcsec")
    bpa_deg: float = Field(
        30.0, ge=-180, le=180, description="beam position angle, deg east of north"
    )

    @model_validator(mode="after")
    def _minor_not_larger(self) -> BeamConfig:
        if self.bmin_arcsec > self.bmaj_arcsec:
            raise ValueError(
                f"bmin_arcsec ({self.bmin_arcsec}) exceeds bmaj_arcsec ({self.bmaj_arcsec}); "
                "swap them"
            )
        return self


class NoiseConfig(StrictModel):
    """Beam-correlated Gaussian noise, its variation across the map, and blanked borders."""

    rms_jy: float = Field(3.0e-5, gt=0, description="noise rms at the map centre in Jy/beam")
    edge_to_centre_ratio: float = Field(
        1.5,
        ge=1.0,
        le=100.0,
        description="rms at the middle of the shorter map edge / rms at the centre (primary-beam "
        "like rise, rms = rms_centre * ratio**(r/r_edge)**2); 1 = uniform noise",
    )
    blank_margin_pix: int = Field(
        16, ge=0, description="width in pixels of the NaN-blanked rectangular border"
    )
    blank_radius_fraction: float | None = Field(
        None,
        gt=0,
        description="blank pixels farther from the centre than this fraction of half the shorter "
        "map side (a mosaic edge); null = no circular blanking",
    )


class MaskConfig(StrictModel):
    """How an object's mask is cut from its own noiseless model."""

    threshold_sigma: float = Field(
        1.0, gt=0, description="mask threshold in units of the local rms (Jy/beam)"
    )
    peak_fraction: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="mask threshold as a fraction of the object's peak (Jy/beam); the lower "
        "of the two thresholds is used",
    )


class PowerLawFlux(StrictModel):
    """Differential source counts dN/dS proportional to S**-slope between two fluxes."""

    count: int = Field(0, ge=0, description="number of objects of this class per map")
    flux_min_jy: float = Field(1.5e-5, gt=0, description="lowest integrated flux density in Jy")
    flux_max_jy: float = Field(0.1, gt=0, description="highest integrated flux density in Jy")
    slope: float = Field(1.8, ge=0, description="slope of dN/dS (Euclidean: 2.5)")

    @model_validator(mode="after")
    def _ordered(self) -> PowerLawFlux:
        if self.flux_max_jy <= self.flux_min_jy:
            raise ValueError(
                f"flux_max_jy ({self.flux_max_jy}) must exceed flux_min_jy ({self.flux_min_jy})"
            )
        return self


class CompactConfig(PowerLawFlux):
    """Unresolved (beam-shaped) sources."""

    count: int = Field(500, ge=0, description="number of compact sources per map")


class ExtendedConfig(PowerLawFlux):
    """Resolved single-island sources: elliptical Gaussian, Sersic-like or irregular."""

    count: int = Field(60, ge=0, description="number of extended sources per map")
    flux_min_jy: float = Field(6.0e-5, gt=0, description="lowest integrated flux density in Jy")
    flux_max_jy: float = Field(0.2, gt=0, description="highest integrated flux density in Jy")
    slope: float = Field(1.7, ge=0, description="slope of dN/dS")
    size_min_arcsec: float = Field(15.0, gt=0, description="smallest intrinsic major FWHM, arcsec")
    size_max_arcsec: float = Field(60.0, gt=0, description="largest intrinsic major FWHM, arcsec")
    axis_ratio_min: float = Field(0.3, gt=0, le=1, description="smallest minor/major axis ratio")
    sersic_fraction: float = Field(
        0.2, ge=0, le=1, description="fraction with a Sersic profile (n in 0.5-2.5)"
    )
    irregular_fraction: float = Field(
        0.4, ge=0, le=1, description="fraction made of 2-3 overlapping Gaussian blobs (1 island)"
    )


class ExtendedMultiConfig(PowerLawFlux):
    """FR I / FR II radio galaxies: several islands that form one object."""

    count: int = Field(15, ge=0, description="number of radio galaxies per map")
    flux_min_jy: float = Field(3.0e-4, gt=0, description="lowest integrated flux density in Jy")
    flux_max_jy: float = Field(0.5, gt=0, description="highest integrated flux density in Jy")
    slope: float = Field(1.6, ge=0, description="slope of dN/dS")
    las_min_arcsec: float = Field(
        60.0, gt=0, description="smallest initial end-to-end size, arcsec"
    )
    las_max_arcsec: float = Field(
        240.0, gt=0, description="largest initial end-to-end size, arcsec"
    )
    fr2_fraction: float = Field(0.6, ge=0, le=1, description="fraction of FR II (edge-brightened)")
    core_probability: float = Field(0.7, ge=0, le=1, description="probability of a visible core")
    jet_probability: float = Field(0.5, ge=0, le=1, description="probability of visible jets")
    bent_fraction: float = Field(0.3, ge=0, le=1, description="fraction with bent (C-shaped) arms")


class DiffuseConfig(StrictModel):
    """Low surface brightness halos (round) and relics (arcs), set by surface brightness."""

    count: int = Field(3, ge=0, description="number of diffuse objects per map")
    peak_snr_min: float = Field(1.0, gt=0, description="lowest peak (beam-convolved) / local rms")
    peak_snr_max: float = Field(5.0, gt=0, description="highest peak (beam-convolved) / local rms")
    size_min_arcsec: float = Field(
        120.0, gt=0, description="smallest size (halo diameter, relic length)"
    )
    size_max_arcsec: float = Field(360.0, gt=0, description="largest size, arcsec")
    relic_fraction: float = Field(0.4, ge=0, le=1, description="fraction that are relics (arcs)")
    turbulence: float = Field(
        0.4, ge=0, le=2, description="log-amplitude of the smooth random modulation"
    )


class SpuriousConfig(StrictModel):
    """Deconvolution artefacts (rings, spokes) around the brightest compact sources."""

    count: int = Field(
        4,
        ge=0,
        description="number of parents given artefacts: the brightest compact sources, their "
        "flux raised to at least min_parent_snr x local rms",
    )
    min_parent_snr: float = Field(
        400.0, gt=0, description="smallest parent peak / local rms (flux raised if needed)"
    )
    amplitude_min: float = Field(0.01, gt=0, lt=1, description="lowest artefact peak / parent peak")
    amplitude_max: float = Field(
        0.04, gt=0, lt=1, description="highest artefact peak / parent peak"
    )
    radius_beams: float = Field(
        8.0, gt=1, description="outer radius of the artefact pattern in beam FWHM"
    )


class SimulationConfig(StrictModel):
    """Settings of ``skysift simulate-sky`` (section ``simulate``)."""

    n_maps: int = Field(2, ge=0, description="number of simulated maps the workflow makes")
    geometry: GeometryConfig = Field(default_factory=GeometryConfig)
    beam: BeamConfig = Field(default_factory=BeamConfig)
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    mask: MaskConfig = Field(default_factory=MaskConfig)
    compact: CompactConfig = Field(default_factory=CompactConfig)
    extended: ExtendedConfig = Field(default_factory=ExtendedConfig)
    extended_multi: ExtendedMultiConfig = Field(default_factory=ExtendedMultiConfig)
    diffuse: DiffuseConfig = Field(default_factory=DiffuseConfig)
    spurious: SpuriousConfig = Field(default_factory=SpuriousConfig)
