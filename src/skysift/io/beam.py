"""The elliptical Gaussian restoring beam of a radio map.

Kept in its own module so that the survey table and the header parsers can use it without
importing the map reader; :mod:`skysift.io.fits_map` re-exports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Gaussian beam area factor: area = FWHM_FACTOR * bmaj * bmin (same units squared).
GAUSSIAN_AREA_FACTOR = math.pi / (4.0 * math.log(2.0))


@dataclass(frozen=True)
class Beam:
    """Elliptical Gaussian restoring beam.

    Attributes
    ----------
    bmaj_arcsec, bmin_arcsec
        Major and minor axis FWHM in arcsec.
    bpa_deg
        Position angle of the major axis in degrees, east of north (FITS BPA convention).
    """

    bmaj_arcsec: float
    bmin_arcsec: float
    bpa_deg: float = 0.0

    def __post_init__(self) -> None:
        if not (self.bmaj_arcsec > 0 and self.bmin_arcsec > 0):
            raise ValueError(
                f"beam axes must be positive, got bmaj={self.bmaj_arcsec}, bmin={self.bmin_arcsec}"
            )
        if self.bmin_arcsec > self.bmaj_arcsec:
            raise ValueError(
                f"beam minor axis {self.bmin_arcsec} arcsec exceeds major axis "
                f"{self.bmaj_arcsec} arcsec"
            )

    def area_arcsec2(self) -> float:
        """Beam solid angle in arcsec^2."""
        return GAUSSIAN_AREA_FACTOR * self.bmaj_arcsec * self.bmin_arcsec

    def area_pixels(self, pixel_scale_arcsec: float) -> float:
        """Beam solid angle in pixels, for square pixels of ``pixel_scale_arcsec``."""
        return self.area_arcsec2() / pixel_scale_arcsec**2
