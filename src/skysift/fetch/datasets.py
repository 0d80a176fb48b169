"""The public datasets that ``skysift fetch-data`` knows: source, licence and citation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, where it comes from and how to credit it."""

    name: str
    summary: str
    source: str
    licence: str
    citation: str


DATASETS: dict[str, DatasetInfo] = {
    "first": DatasetInfo(
        name="first",
        summary="VLA FIRST 1.4 GHz cutouts by position (1.8 arcsec/px, Jy/beam, 5.4 arcsec beam)",
        source="NASA SkyView runquery.pl, Survey='VLA FIRST (1.4 GHz)', Return=FITS",
        licence="FIRST: (c) 1994 University of California; scholarly and non-commercial use",
        citation="Becker, White & Helfand 1995, ApJ 450, 559; SkyView: McGlynn et al. 1998",
    ),
    "nvss": DatasetInfo(
        name="nvss",
        summary="NVSS 1.4 GHz cutouts by position (15 arcsec/px, Jy/beam, 45 arcsec beam)",
        source="NASA SkyView runquery.pl, Survey='NVSS', Return=FITS",
        licence="NRAO public survey data",
        citation="Condon et al. 1998, AJ 115, 1693; SkyView: McGlynn et al. 1998",
    ),
    "mirabest": DatasetInfo(
        name="mirabest",
        summary="MiraBest: 1256 FIRST radio galaxies (FR I/FR II/hybrid), 150x150 uint8 batches",
        source="Zenodo record 4288837 (MiraBest_F_batches.tar.gz), Jodrell Bank mirror",
        licence="CC BY 4.0",
        citation="Porter & Scaife 2023, RASTI 2, 293; doi:10.5281/zenodo.4288837",
    ),
    "ck04": DatasetInfo(
        name="ck04",
        summary="Castelli & Kurucz ATLAS9 subset ([M/H]=-1,0,+0.2; 76 Teff) -> ck04_subset.npz",
        source="STScI CDBS ck04models (archive.stsci.edu/hlsps/reference-atlases/cdbs/grid)",
        licence="public (STScI/CDBS distribution for synphot); no explicit licence stated",
        citation="Castelli & Kurucz 2003, IAU Symp. 210, A20 (astro-ph/0405087); STScI CDBS",
    ),
}


def format_listing() -> str:
    """Human-readable table of the datasets, one block per dataset."""
    blocks = []
    for info in DATASETS.values():
        blocks.append(
            f"{info.name}\n"
            f"  {info.summary}\n"
            f"  source:   {info.source}\n"
            f"  licence:  {info.licence}\n"
            f"  cite:     {info.citation}"
        )
    return "\n".join(blocks) + "\n"
