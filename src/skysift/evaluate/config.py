"""Settings of ``skysift evaluate-detector`` (section ``evaluate`` of the project config)."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import Field, field_validator

from skysift.settings import StrictModel


def _ascending(values: list[float], name: str) -> list[float]:
    if len(values) < 1 or any(b <= a for a, b in pairwise(values)):
        raise ValueError(f"{name} must be a non-empty list of strictly ascending edges")
    return values


class EvaluationConfig(StrictModel):
    """How detections are matched to truth and counted.

    Attributes
    ----------
    iou_threshold
        Minimum mask IoU of a match (inclusive).
    score_threshold
        Detections with a lower score are not counted (mAP uses all of them).
    score_thresholds
        Per-class override of ``score_threshold``.
    min_snr
        Truth objects with a lower peak S/N are not counted in completeness; a detection
        matched to one is neither true nor false (left out of reliability).
    min_snr_by_class
        Per-class override of ``min_snr`` (diffuse emission has a low peak S/N by nature).
    snr_bins
        Lower edges of the S/N bins; the last bin is open ([last, inf)).
    size_bins_arcsec
        Lower edges of the largest-angular-size bins (arcsec); the last bin is open.
    island_min_fraction
        Fraction of an island's pixels a detection must cover to count the island as covered.
    match
        ``"mask"``: a detection matches a truth object by mask IoU >= ``iou_threshold``.
        ``"position"``: by position, for finders whose masks are not measured shapes (Aegean's
        fitted ellipses): a detection matches the truth object whose mask contains its
        ``x``/``y`` (its flux-weighted mask centroid when it has none or when that position
        lies outside the cutout).
    """

    iou_threshold: float = Field(0.5, gt=0.0, le=1.0)
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    score_thresholds: dict[str, float] = Field(default_factory=dict)
    min_snr: float = Field(5.0, ge=0.0)
    min_snr_by_class: dict[str, float] = Field(default_factory=lambda: {"diffuse": 0.0})
    snr_bins: list[float] = Field(
        default_factory=lambda: [0.0, 3.0, 5.0, 7.0, 10.0, 20.0, 50.0, 100.0]
    )
    size_bins_arcsec: list[float] = Field(default_factory=lambda: [0.0, 20.0, 40.0, 80.0, 160.0])
    island_min_fraction: float = Field(0.5, gt=0.0, le=1.0)
    match: Literal["mask", "position"] = "mask"

    @field_validator("snr_bins")
    @classmethod
    def _snr_bins(cls, value: list[float]) -> list[float]:
        return _ascending(value, "snr_bins")

    @field_validator("size_bins_arcsec")
    @classmethod
    def _size_bins(cls, value: list[float]) -> list[float]:
        return _ascending(value, "size_bins_arcsec")

    def min_snr_of(self, name: str) -> float:
        """The S/N cut of class ``name``."""
        return self.min_snr_by_class.get(name, self.min_snr)
