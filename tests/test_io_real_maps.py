"""read_map and the background/rms estimate on the real survey images in ../shared/data.

Numbers are from real_maps/PROVENANCE.md (header facts; rms = 1.4826 x MAD over all finite
pixels). That global MAD includes source and diffuse emission, so it over-estimates the noise
of crowded fields; the mesh rms must match it within 20% on the uncrowded fields and stay at
or below it on the crowded ATCA fields, and on every field the negative half of the
background-subtracted map, in units of the rms map, must have an rms of 1 (within 15%).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skysift.errors import InputFileError
from skysift.io.config import BackgroundConfig
from skysift.io.fits_map import read_map
from skysift.io.header import pixel_to_icrs
from skysift.io.ingest import map_background

ATCA = "real_maps/caesar-atca-scorpio/Scorpio"
MEERKAT = "real_maps/meerkat-mgcls"
RACS = "real_maps/askap-racs-fixture/SB56659.RACS_0940-04.beam17.round3-0000-image.sub.fits"
WSRT = "real_maps/wsrt-3c236/3C236_original.fits"

#: file, shape (ny, nx), bmaj, bmin [arcsec], bpa [deg], frequency [Hz], PROVENANCE MAD rms,
#: crowded (global MAD inflated by emission)
REAL_FIELDS = [
    (f"{ATCA}ExtendedSourceField.fits", (1000, 1000), 6.5, 6.5, 0.0, 1.4475e9, 1.27e-4, True),
    (f"{ATCA}FaintSNRField.fits", (1000, 1000), 6.5, 6.5, 0.0, 1.4475e9, 1.08e-4, False),
    (f"{ATCA}S17Field.fits", (1000, 1000), 6.5, 6.5, 0.0, 1.4475e9, 1.91e-4, True),
    (f"{MEERKAT}/AbellS1063_inner.fits", (560, 722), 7.26, 6.61, -56.0, 1.2839e9, 7.05e-6, False),
    (f"{MEERKAT}/bullet_cluster_centre.fits", (602, 452), 6.93, 6.83, -30.7, 1.2838e9, 9.47e-6, False),  # noqa: E501
    (WSRT, (512, 512), 48.0, 28.0, 0.0, 6.085e8, 7.94e-4, False),
    (RACS, (10, 10), 18.26, 12.22, 120.3, 8.085e8, 9.9e-4, False),
]  # fmt: skip


@pytest.mark.parametrize("field", REAL_FIELDS, ids=lambda f: Path(f[0]).stem[:24])
def test_real_field_header_facts_and_rms(shared_data: Path, field: tuple[Any, ...]) -> None:
    rel, shape, bmaj, bmin, bpa, freq, mad_rms, crowded = field
    radio_map = read_map(shared_data / rel)
    assert radio_map.shape == shape
    assert radio_map.data.dtype == np.float32
    assert radio_map.beam.bmaj_arcsec == pytest.approx(bmaj, abs=0.01)
    assert radio_map.beam.bmin_arcsec == pytest.approx(bmin, abs=0.01)
    assert radio_map.beam.bpa_deg == pytest.approx(bpa, abs=0.1)
    assert radio_map.frequency_hz == pytest.approx(freq, rel=1e-3)
    maps = map_background(radio_map, BackgroundConfig())
    ratio = maps.median_rms / mad_rms
    if crowded:
        assert 0.4 < ratio <= 1.0
    else:
        assert ratio == pytest.approx(1.0, abs=0.2)
    residual = radio_map.data - maps.background
    negative = residual < 0
    normalised = residual[negative] / maps.rms[negative]
    assert float(np.sqrt(np.mean(normalised**2))) == pytest.approx(1.0, abs=0.15)


def test_scorpio_ncp_without_bpa(shared_data: Path) -> None:
    radio_map = read_map(shared_data / f"{ATCA}S17Field.fits")
    assert "no BPA" in radio_map.provenance["beam_source"]
    assert radio_map.provenance["projection"] == ["RA---SIN", "DEC--SIN"]  # NCP = SIN + PV
    assert radio_map.pixel_scale_arcsec == pytest.approx(1.5, rel=1e-6)


def test_meerkat_wcsaxes4_and_rfalpha(shared_data: Path) -> None:
    abell = read_map(shared_data / MEERKAT / "AbellS1063_inner.fits")
    assert abell.wcs.naxis == 2
    assert abell.provenance["frequency_source"] == "header RESTFRQ"
    bullet = read_map(shared_data / MEERKAT / "bullet_cluster_centre.fits")
    assert bullet.frequency_hz == pytest.approx(1.2837910156250e9)
    assert "RFALPHA" in bullet.provenance["frequency_source"]
    # the Bullet cluster (1E 0657-56) lies at RA 104.6, Dec -55.95
    ra, dec = pixel_to_icrs(bullet.wcs, 257.0, 331.0)
    assert float(ra) == pytest.approx(104.63, abs=0.01)
    assert float(dec) == pytest.approx(-55.947, abs=0.01)


def test_wsrt_4d_b1950(shared_data: Path) -> None:
    radio_map = read_map(shared_data / WSRT)
    assert radio_map.provenance["input_shape"] == [1, 1, 512, 512]
    assert radio_map.wcs.wcs.radesys == "FK4"
    # the pointing centre (B1950 150.7707 +35.1469) is 3C236 at J2000 151.507 +34.903
    ra, dec = pixel_to_icrs(radio_map.wcs, 255.0, 256.0)
    assert float(ra) == pytest.approx(151.507, abs=0.005)
    assert float(dec) == pytest.approx(34.903, abs=0.005)
    assert float(np.nanmax(radio_map.data)) == pytest.approx(4.958, abs=0.001)


def test_every_first_cutout(shared_data: Path) -> None:
    files = sorted((shared_data / "first_cutouts").glob("*.fits"))
    assert len(files) == 59
    for path in files:
        with pytest.raises(InputFileError, match=r"no beam keywords.*--survey FIRST"):
            read_map(path)
        radio_map = read_map(path, survey="FIRST")
        assert radio_map.shape == (300, 300)
        assert radio_map.beam.bmaj_arcsec == 5.4
        assert radio_map.pixel_scale_arcsec == pytest.approx(1.8, rel=1e-6)
        assert radio_map.frequency_hz == pytest.approx(1.4e9)
        # the file name carries the cutout centre: <class>_<ra><+-dec>_...
        ra_dec = path.name.split("_")[1]
        sign = 1 if "+" in ra_dec else -1
        ra_txt, dec_txt = ra_dec.replace("-", "+").split("+")
        ra, dec = pixel_to_icrs(radio_map.wcs, 149.5, 149.5)
        assert float(ra) == pytest.approx(float(ra_txt), abs=2e-3)
        assert float(dec) == pytest.approx(sign * float(dec_txt), abs=2e-3)


def test_first_cutout_rms_matches_global_mad(shared_data: Path) -> None:
    files = sorted((shared_data / "first_cutouts").glob("*.fits"))[::6]
    for path in files:
        radio_map = read_map(path, survey="FIRST")
        finite = radio_map.data[np.isfinite(radio_map.data)]
        mad_rms = 1.4826 * np.median(np.abs(finite - np.median(finite)))
        maps = map_background(radio_map, BackgroundConfig())
        assert maps.median_rms == pytest.approx(mad_rms, rel=0.1)
        assert 1e-4 < maps.median_rms < 3e-4  # FIRST: ~0.15 mJy/beam
