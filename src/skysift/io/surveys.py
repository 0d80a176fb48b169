"""Known radio continuum surveys: restoring beam and typical frequency.

Survey cutouts (SkyView FIRST and NVSS images, for example) often carry no BMAJ/BMIN keywords.
:func:`get_survey` supplies the beam of a survey by name so such maps can still be ingested
(``skysift ingest-map MAP --survey FIRST``). Values are those of the survey papers cited beside
each entry; where a survey's beam varies across the sky (declination-dependent synthesized beam
of east-west arrays) the entry is the value at the best-sampled declinations and the map's own
header or ``--beam`` should be preferred.
"""

from __future__ import annotations

from dataclasses import dataclass

from skysift.errors import ConfigError
from skysift.io.fits_map import Beam


@dataclass(frozen=True)
class Survey:
    """One survey's nominal imaging parameters.

    Attributes
    ----------
    name
        Canonical short name (upper case), e.g. ``"FIRST"``.
    beam
        Restoring beam of the survey images (FWHM axes in arcsec, PA in degrees).
    frequency_hz
        Typical (reference) frequency of the images in Hz.
    reference
        Survey paper.
    """

    name: str
    beam: Beam
    frequency_hz: float
    reference: str


_SURVEYS: tuple[Survey, ...] = (
    # Becker, White & Helfand 1995, ApJ 450, 559: VLA B-array, 1365+1435 MHz, 5.4" FWHM
    # (circular in the final images north of Dec ~ +4.5 deg), 1.8"/px.
    Survey("FIRST", Beam(5.4, 5.4, 0.0), 1.4e9, "Becker, White & Helfand 1995, ApJ 450, 559"),
    # Condon et al. 1998, AJ 115, 1693: VLA D/DnC array, 1.4 GHz, 45" FWHM circular.
    Survey("NVSS", Beam(45.0, 45.0, 0.0), 1.4e9, "Condon et al. 1998, AJ 115, 1693"),
    # Lacy et al. 2020, PASP 132, 035001: VLA B/BnA array, 2-4 GHz, ~2.5" angular resolution.
    Survey("VLASS", Beam(2.5, 2.5, 0.0), 3.0e9, "Lacy et al. 2020, PASP 132, 035001"),
    # McConnell et al. 2020, PASA 37, e048 and Hale et al. 2021, PASA 38, e058: ASKAP 887.5 MHz,
    # mosaics convolved to a common 25" circular beam.
    Survey("RACS-LOW", Beam(25.0, 25.0, 0.0), 887.5e6, "McConnell et al. 2020, PASA 37, e048"),
    # Duchesne et al. 2023, PASA 40, e034: ASKAP 1367.5 MHz; DR1 images convolved to 25".
    Survey("RACS-MID", Beam(25.0, 25.0, 0.0), 1367.5e6, "Duchesne et al. 2023, PASA 40, e034"),
    # Mauch et al. 2003, MNRAS 342, 1117 (Bock, Large & Sadler 1999, AJ 117, 1578): MOST 843 MHz,
    # 45" x 45" cosec|Dec|; the circular 45" entry holds at the south celestial pole only.
    Survey("SUMSS", Beam(45.0, 45.0, 0.0), 843e6, "Mauch et al. 2003, MNRAS 342, 1117"),
    # Intema et al. 2017, A&A 598, A78: GMRT 150 MHz TGSS ADR1, 25" x 25" north of Dec 19 deg
    # (25" x 25"/cos(Dec - 19 deg) further south).
    Survey("TGSS", Beam(25.0, 25.0, 0.0), 147.5e6, "Intema et al. 2017, A&A 598, A78"),
    # Shimwell et al. 2022, A&A 659, A1: LOFAR HBA 144 MHz LoTSS-DR2, 6" circular.
    Survey("LOTSS", Beam(6.0, 6.0, 0.0), 144e6, "Shimwell et al. 2022, A&A 659, A1"),
    # Norris et al. 2021, PASA 38, e046: ASKAP EMU, 944 MHz; main-survey images at ~15".
    Survey("EMU", Beam(15.0, 15.0, 0.0), 944e6, "Norris et al. 2021, PASA 38, e046"),
    # Rengelink et al. 1997, A&AS 124, 259: WSRT 325 MHz, 54" x 54" cosec(Dec).
    Survey("WENSS", Beam(54.0, 54.0, 0.0), 325e6, "Rengelink et al. 1997, A&AS 124, 259"),
    # Knowles et al. 2022, A&A 657, A56: MeerKAT L-band MGCLS, full-resolution images ~7.5".
    Survey("MGCLS", Beam(7.5, 7.5, 0.0), 1.28e9, "Knowles et al. 2022, A&A 657, A56"),
)

#: Accepted spellings that differ from the canonical name.
_ALIASES: dict[str, str] = {
    "RACS": "RACS-LOW",
    "RACS_LOW": "RACS-LOW",
    "RACSLOW": "RACS-LOW",
    "RACS_MID": "RACS-MID",
    "LOTSS-DR2": "LOTSS",
    "VLA FIRST": "FIRST",
    "VLA-FIRST": "FIRST",
}

SURVEYS: dict[str, Survey] = {s.name: s for s in _SURVEYS}


def known_survey_names() -> list[str]:
    """Canonical names of the known surveys, in table order."""
    return [s.name for s in _SURVEYS]


def find_survey(name: str) -> Survey | None:
    """Look up a survey by name, case-insensitively; None if unknown."""
    key = name.strip().upper()
    key = _ALIASES.get(key, key)
    return SURVEYS.get(key)


def get_survey(name: str, *, key: str = "survey") -> Survey:
    """Look up a survey by name, case-insensitively.

    Parameters
    ----------
    name
        Survey name, e.g. ``"first"`` or ``"RACS-low"``.
    key
        Name of the setting or flag the value came from, used in the error.

    Raises
    ------
    ConfigError
        If the survey is unknown; the message lists the known names.
    """
    survey = find_survey(name)
    if survey is None:
        raise ConfigError(
            key,
            f"unknown survey {name!r} (known: {', '.join(known_survey_names())}); "
            "or give the beam explicitly (--beam BMAJ BMIN [BPA] in arcsec)",
        )
    return survey
