"""read_map on maps built here with real-survey header layouts, and the survey table."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skysift.errors import ConfigError, InputFileError
from skysift.io.fits_map import Beam, RadioMap, read_map, write_map
from skysift.io.header import clean_header, icrs_to_pixel, pixel_to_icrs
from skysift.io.surveys import find_survey, get_survey, known_survey_names

RNG_SEED = 1234


def celestial_cards(
    n: int = 64,
    *,
    proj: str = "SIN",
    scale_arcsec: float = 2.0,
    ra: float = 150.0,
    dec: float = -30.0,
) -> dict[str, object]:
    """Celestial WCS keywords of an n x n map centred on (ra, dec)."""
    return {
        "CTYPE1": f"RA---{proj}",
        "CRVAL1": ra,
        "CRPIX1": n / 2 + 0.5,
        "CDELT1": -scale_arcsec / 3600.0,
        "CUNIT1": "deg",
        "CTYPE2": f"DEC--{proj}",
        "CRVAL2": dec,
        "CRPIX2": n / 2 + 0.5,
        "CDELT2": scale_arcsec / 3600.0,
        "CUNIT2": "deg",
    }


def noise_image(n: int = 64, rms: float = 1e-3) -> np.ndarray:
    return np.random.default_rng(RNG_SEED).normal(0.0, rms, (n, n)).astype(np.float32)


def write_fits(
    path: Path, data: np.ndarray, cards: dict[str, object], history: tuple[str, ...] = ()
) -> Path:
    header = fits.Header()
    for key, value in cards.items():
        header[key] = value
    for line in history:
        header.add_history(line)
    fits.PrimaryHDU(data=data, header=header).writeto(path)
    return path


def askap_4d_cards(n: int = 64) -> dict[str, object]:
    """Layout of an ASKAP/WSClean image: SIN + FREQ + STOKES, elongated beam, JY/BEAM."""
    cards = celestial_cards(n, scale_arcsec=2.5)
    cards.update(
        {
            "BUNIT": "JY/BEAM",
            "BMAJ": 0.00507281757649565,
            "BMIN": 0.00339522901317359,
            "BPA": 120.300196487342,
            "EQUINOX": 2000.0,
            "CTYPE3": "FREQ",
            "CRPIX3": 1.0,
            "CRVAL3": 887.49e6,
            "CDELT3": 288e6,
            "CUNIT3": "Hz",
            "CTYPE4": "STOKES",
            "CRPIX4": 1.0,
            "CRVAL4": 1.0,
            "CDELT4": 1.0,
            "TELESCOP": "ASKAP",
        }
    )
    return cards


def test_askap_4d_sin_freq_stokes(tmp_path: Path) -> None:
    data = noise_image()
    path = write_fits(tmp_path / "askap.fits", data[np.newaxis, np.newaxis], askap_4d_cards())
    radio_map = read_map(path)
    assert radio_map.shape == (64, 64)
    assert radio_map.data.dtype == np.float32
    np.testing.assert_array_equal(radio_map.data, data)
    assert radio_map.wcs.naxis == 2
    assert radio_map.beam.bmaj_arcsec == pytest.approx(18.2621, abs=1e-3)
    assert radio_map.beam.bmin_arcsec == pytest.approx(12.2228, abs=1e-3)
    assert radio_map.beam.bpa_deg == pytest.approx(120.3002, abs=1e-3)
    assert radio_map.frequency_hz == pytest.approx(887.49e6)
    assert radio_map.pixel_scale_arcsec == pytest.approx(2.5, rel=1e-9)
    assert radio_map.provenance["squeezed_axes"] == ["FREQ (axis 3)", "STOKES (axis 4)"]
    assert radio_map.header["TELESCOP"] == "ASKAP"


def test_ncp_projection_pixel_sky_round_trip(tmp_path: Path) -> None:
    cards = celestial_cards(proj="NCP", scale_arcsec=1.5, ra=255.45, dec=-41.86)
    cards.update({"BUNIT": "JY/BEAM", "BMAJ": 6.5 / 3600, "BMIN": 6.5 / 3600, "EPOCH": 2000.0})
    path = write_fits(tmp_path / "ncp.fits", noise_image(), cards)
    radio_map = read_map(path)
    # the reference pixel (1-based 32.5) is at 0-based 31.5 and maps to CRVAL
    ra, dec = pixel_to_icrs(radio_map.wcs, 31.5, 31.5)
    # FK5 J2000 and ICRS differ by < 0.03 arcsec
    assert float(ra) == pytest.approx(255.45, abs=1e-5)
    assert float(dec) == pytest.approx(-41.86, abs=1e-5)
    xs, ys = np.array([0.0, 10.3, 63.0]), np.array([5.0, 40.7, 63.0])
    back_x, back_y = icrs_to_pixel(radio_map.wcs, *pixel_to_icrs(radio_map.wcs, xs, ys))
    np.testing.assert_allclose(back_x, xs, atol=1e-6)
    np.testing.assert_allclose(back_y, ys, atol=1e-6)
    # one pixel east is 1.5 arcsec away on the sky
    ra1, dec1 = pixel_to_icrs(radio_map.wcs, 30.5, 31.5)
    sep = np.hypot((float(ra1) - float(ra)) * np.cos(np.radians(dec)), float(dec1) - float(dec))
    assert sep * 3600 == pytest.approx(1.5, rel=1e-3)


def test_mjy_per_beam_converted_exactly(tmp_path: Path) -> None:
    data = noise_image(rms=2.0)  # 2 mJy/beam noise written in mJy/beam
    cards = celestial_cards()
    cards.update({"BUNIT": "mJy/beam", "BMAJ": 5 / 3600, "BMIN": 4 / 3600, "BPA": 10.0})
    path = write_fits(tmp_path / "mjy.fits", data, cards)
    radio_map = read_map(path)
    np.testing.assert_allclose(radio_map.data, data * np.float32(1e-3), rtol=1e-7)
    assert radio_map.provenance["unit_scale_to_jy_per_beam"] == 1e-3
    cards["BUNIT"] = "uJy/beam"
    path = write_fits(tmp_path / "ujy.fits", data, cards)
    np.testing.assert_allclose(read_map(path).data, data * np.float32(1e-6), rtol=1e-7)


@pytest.mark.parametrize("bunit", ["K", "Jy/pixel", "MJy/sr"])
def test_unsupported_bunit_is_an_error(tmp_path: Path, bunit: str) -> None:
    cards = celestial_cards()
    cards.update({"BUNIT": bunit, "BMAJ": 5 / 3600, "BMIN": 5 / 3600, "BPA": 0.0})
    path = write_fits(tmp_path / "k.fits", noise_image(), cards)
    with pytest.raises(InputFileError, match=r"unsupported BUNIT .*supported: Jy/beam, mJy/beam"):
        read_map(path)


def test_missing_bpa_is_zero_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cards = celestial_cards()
    cards.update({"BUNIT": "Jy/beam", "BMAJ": 7 / 3600, "BMIN": 5 / 3600})
    path = write_fits(tmp_path / "nobpa.fits", noise_image(), cards)
    with caplog.at_level(logging.WARNING):
        radio_map = read_map(path)
    assert radio_map.beam.bmaj_arcsec == pytest.approx(7.0)
    assert radio_map.beam.bmin_arcsec == pytest.approx(5.0)
    assert radio_map.beam.bpa_deg == 0.0
    assert "no BPA" in caplog.text
    assert "assumed 0 deg" in radio_map.provenance["beam_source"]


def test_aips_history_beam(tmp_path: Path) -> None:
    cards = celestial_cards(proj="NCP", scale_arcsec=9.0)
    cards.update({"BUNIT": "JY/BEAM", "EPOCH": 1950.0})
    history = ("AIPS   CLEAN BMAJ=  1.3333E-02 BMIN=  7.7778E-03 BPA=  12.50",)
    path = write_fits(tmp_path / "aips.fits", noise_image(), cards, history)
    radio_map = read_map(path)
    assert radio_map.beam.bmaj_arcsec == pytest.approx(48.0, abs=1e-2)
    assert radio_map.beam.bmin_arcsec == pytest.approx(28.0, abs=1e-2)
    assert radio_map.beam.bpa_deg == pytest.approx(12.5)
    assert radio_map.provenance["beam_source"] == "AIPS HISTORY CLEAN card"


def test_nan_border_kept(tmp_path: Path) -> None:
    data = noise_image()
    data[:5, :] = np.nan
    data[:, -7:] = np.nan
    cards = celestial_cards()
    cards.update({"BUNIT": "JY/BEAM", "BMAJ": 5 / 3600, "BMIN": 5 / 3600, "BPA": 0.0})
    radio_map = read_map(write_fits(tmp_path / "nan.fits", data, cards))
    assert np.isnan(radio_map.data[:5]).all() and np.isnan(radio_map.data[:, -7:]).all()
    assert np.isfinite(radio_map.data[5:, :-7]).all()
    assert radio_map.provenance["nan_fraction"] == pytest.approx(np.isnan(data).mean())


def test_b1950_frame_converted_to_icrs(tmp_path: Path) -> None:
    cards = celestial_cards(proj="NCP", ra=150.77071, dec=35.146862)
    cards.update({"BUNIT": "JY/BEAM", "BMAJ": 0.01, "BMIN": 0.005, "BPA": 0.0, "EPOCH": 1950.0})
    radio_map = read_map(write_fits(tmp_path / "b1950.fits", noise_image(), cards))
    assert radio_map.wcs.wcs.radesys == "FK4"
    ra, dec = pixel_to_icrs(radio_map.wcs, 31.5, 31.5)
    # B1950 -> J2000 precession moves the 3C236 pointing by 0.73 deg in RA and -0.24 deg in
    # Dec, onto the galaxy's J2000 position (RA 10h06m01.7s = 151.507, Dec +34d54m10s = 34.903)
    assert float(ra) == pytest.approx(151.507, abs=5e-3)
    assert float(dec) == pytest.approx(34.903, abs=5e-3)


def test_frequency_sources(tmp_path: Path) -> None:
    cards = celestial_cards()
    cards.update({"BUNIT": "JY/BEAM", "BMAJ": 5 / 3600, "BMIN": 5 / 3600, "BPA": 0.0})
    cards_obit = dict(cards, RFALPHA=1.28379e9)
    radio_map = read_map(write_fits(tmp_path / "obit.fits", noise_image(), cards_obit))
    assert radio_map.frequency_hz == pytest.approx(1.28379e9)
    assert "RFALPHA" in str(radio_map.provenance["frequency_source"])
    # WCSAXES=4 with NAXIS=2 and RESTFRQ (DDFacet)
    cards_dd = dict(cards, WCSAXES=4, RESTFRQ=1.2838955078125e9)
    radio_map = read_map(write_fits(tmp_path / "dd.fits", noise_image(), cards_dd))
    assert radio_map.frequency_hz == pytest.approx(1.2838955078125e9)
    assert radio_map.wcs.naxis == 2
    # none in the header: the argument, else unknown
    plain = write_fits(tmp_path / "plain.fits", noise_image(), cards)
    assert read_map(plain).frequency_hz is None
    assert read_map(plain, frequency_hz=3e9).frequency_hz == 3e9


def test_beam_from_argument_and_survey(tmp_path: Path) -> None:
    cards = celestial_cards(proj="TAN", scale_arcsec=1.8)
    cards.update({"BUNIT": "JY/BEAM", "SURVEY": "FIRST"})
    path = write_fits(tmp_path / "nobeam.fits", noise_image(), cards)
    with pytest.raises(
        InputFileError, match=r"no beam keywords \(BMAJ/BMIN\); pass --beam .*--survey FIRST"
    ):
        read_map(path)
    assert read_map(path, beam=Beam(6.0, 5.0, 20.0)).beam == Beam(6.0, 5.0, 20.0)
    first = read_map(path, survey="first")
    assert first.beam == Beam(5.4, 5.4, 0.0)
    assert first.frequency_hz == pytest.approx(1.4e9)


def test_cube_is_an_error_naming_the_axis(tmp_path: Path) -> None:
    cards = askap_4d_cards(16)
    data = np.zeros((1, 3, 16, 16), dtype=np.float32)
    path = write_fits(tmp_path / "cube.fits", data, cards)
    with pytest.raises(InputFileError, match=r"a cube: axis 3 \(FREQ\) has 3 planes"):
        read_map(path)


def test_input_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.fits"
    text.write_text("this is not a FITS file\n" * 200)
    with pytest.raises(InputFileError, match="not a FITS file"):
        read_map(text)
    with pytest.raises(InputFileError, match="file not found"):
        read_map(tmp_path / "missing.fits")
    linear = {"CTYPE1": "X", "CTYPE2": "Y", "BUNIT": "JY/BEAM", "BMAJ": 1e-3, "BMIN": 1e-3}
    with pytest.raises(InputFileError, match="no celestial WCS"):
        read_map(write_fits(tmp_path / "lin.fits", noise_image(), linear))
    cards = celestial_cards()
    cards.update({"BUNIT": "JY/BEAM", "BMAJ": 1e-3, "BMIN": 1e-3, "BPA": 0.0})
    blank = np.full((64, 64), np.nan, dtype=np.float32)
    with pytest.raises(InputFileError, match="all pixels are NaN"):
        read_map(write_fits(tmp_path / "nan.fits", blank, cards))
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=[1.0])])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "table.fits")
    with pytest.raises(InputFileError, match="no image data"):
        read_map(tmp_path / "table.fits")


def test_unprintable_comment_cards_are_fixed(tmp_path: Path) -> None:
    cards = celestial_cards()
    cards.update({"BUNIT": "JY/BEAM", "BMAJ": 1e-3, "BMIN": 1e-3, "BPA": 0.0})
    path = write_fits(tmp_path / "tab.fits", noise_image(), cards)
    raw = bytearray(path.read_bytes())
    card = b"COMMENT hite \t  M.D. Gregg".ljust(80)
    # put the bad card in place of the blank padding card right before END
    end = raw.index(b"END" + b" " * 77)
    raw[end : end + 80] = card
    raw[end + 80 : end + 160] = b"END".ljust(80)
    path.write_bytes(bytes(raw))
    radio_map = read_map(path)
    notes = radio_map.provenance["header_cards_fixed_or_dropped"]
    assert len(notes) == 1 and "non-printable" in notes[0]
    header, _ = clean_header(fits.getheader(path))
    assert "\t" not in str(header["COMMENT"])
    # the written map is valid FITS again
    write_map(tmp_path / "out.fits", radio_map)
    with fits.open(tmp_path / "out.fits") as hdul:
        hdul.verify("exception")


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    cards = askap_4d_cards()
    path = write_fits(tmp_path / "askap.fits", noise_image()[np.newaxis, np.newaxis], cards)
    radio_map = read_map(path, name="racs")
    out = write_map(tmp_path / "std.fits", radio_map)
    again = read_map(out)
    assert isinstance(again, RadioMap)
    np.testing.assert_array_equal(again.data, radio_map.data)
    assert again.beam.bmaj_arcsec == pytest.approx(radio_map.beam.bmaj_arcsec)
    assert again.frequency_hz == pytest.approx(radio_map.frequency_hz)
    assert fits.getheader(out)["OBJECT"] == "racs"


def test_survey_table() -> None:
    assert get_survey("first").beam.bmaj_arcsec == 5.4
    assert get_survey("NVSS").beam.bmaj_arcsec == 45.0
    assert get_survey("racs").name == "RACS-LOW"
    assert get_survey("LoTSS").frequency_hz == pytest.approx(144e6)
    assert find_survey("nonsense") is None
    assert {"FIRST", "NVSS", "VLASS", "RACS-LOW", "SUMSS", "TGSS", "LOTSS", "EMU"} <= set(
        known_survey_names()
    )
    with pytest.raises(ConfigError, match=r"unknown survey 'FRIST' \(known: FIRST, NVSS"):
        get_survey("FRIST")
