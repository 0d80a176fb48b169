"""`skysift ingest-map`: outputs, reprojection, and one-line errors with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skysift.cli import main
from skysift.io.fits_map import read_map
from skysift.io.header import pixel_to_icrs

N = 128
RMS_MJY = 0.2  # noise rms in mJy/beam (the map is written in mJy/beam)
SCALE = 2.0  # arcsec per pixel
BMAJ, BMIN = 8.0, 6.0  # arcsec


def askap_like_map(path: Path, *, source_peak_mjy: float = 50.0) -> Path:
    """A 4-D SIN+FREQ+STOKES map in mJy/beam with a NaN border and one point source at
    0-based pixel (x, y) = (70, 50)."""
    rng = np.random.default_rng(99)
    data = rng.normal(0.0, RMS_MJY, (N, N))
    yy, xx = np.mgrid[0:N, 0:N]
    sig_x, sig_y = BMIN / SCALE / 2.3548, BMAJ / SCALE / 2.3548  # PA 0: major along y (north)
    data += source_peak_mjy * np.exp(
        -((xx - 70) ** 2) / (2 * sig_x**2) - (yy - 50) ** 2 / (2 * sig_y**2)
    )
    data[:, :8] = np.nan
    header = fits.Header()
    cards: dict[str, object] = {
        "BUNIT": "mJy/beam",
        "BMAJ": BMAJ / 3600, "BMIN": BMIN / 3600, "BPA": 0.0,
        "CTYPE1": "RA---SIN", "CRVAL1": 40.0, "CRPIX1": 64.0, "CDELT1": -SCALE / 3600,
        "CTYPE2": "DEC--SIN", "CRVAL2": -20.0, "CRPIX2": 64.0, "CDELT2": SCALE / 3600,
        "CTYPE3": "FREQ", "CRVAL3": 943.5e6, "CRPIX3": 1.0, "CDELT3": 288e6, "CUNIT3": "Hz",
        "CTYPE4": "STOKES", "CRVAL4": 1.0, "CRPIX4": 1.0, "CDELT4": 1.0,
    }  # fmt: skip
    for key, value in cards.items():
        header[key] = value
    fits.PrimaryHDU(data=data[np.newaxis, np.newaxis].astype(np.float32), header=header).writeto(
        path
    )
    return path


def test_ingest_map_outputs(tmp_path: Path) -> None:
    src = askap_like_map(tmp_path / "askap.fits")
    out = tmp_path / "ingested"
    assert main(["ingest-map", str(src), "--out", str(out), "--name", "emu_test", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "background.fits",
        "ingest.json",
        "map.fits",
        "rms.fits",
    ]
    radio_map = read_map(out / "map.fits")
    assert radio_map.shape == (N, N)
    header = fits.getheader(out / "map.fits")
    assert header["NAXIS"] == 2 and header["BUNIT"] == "JY/BEAM"
    assert header["BMAJ"] * 3600 == pytest.approx(BMAJ)
    assert header["OBJECT"] == "emu_test"
    assert radio_map.frequency_hz == pytest.approx(943.5e6)
    assert float(np.nanmax(radio_map.data)) == pytest.approx(0.05, rel=0.02)  # mJy -> Jy
    assert np.isnan(radio_map.data[:, :8]).all()
    rms = fits.getdata(out / "rms.fits")
    background = fits.getdata(out / "background.fits")
    assert rms.shape == background.shape == (N, N)
    assert np.isnan(rms[:, :8]).all()
    assert float(np.nanmedian(rms)) == pytest.approx(RMS_MJY * 1e-3, rel=0.05)
    assert abs(float(np.nanmedian(background))) < 0.2 * RMS_MJY * 1e-3
    report = json.loads((out / "ingest.json").read_text())
    assert report["name"] == "emu_test"
    assert report["unit_conversion"] == "mJy/beam -> Jy/beam (x0.001)"
    assert report["beam_source"] == "header BMAJ/BMIN/BPA"
    assert report["frequency_source"].startswith("FREQ axis 3")
    assert report["median_rms_jy_per_beam"] == pytest.approx(RMS_MJY * 1e-3, rel=0.05)
    assert report["read"]["squeezed_axes"] == ["FREQ (axis 3)", "STOKES (axis 4)"]
    assert report["blank_fraction"] == pytest.approx(8 / N)


def test_ingest_with_reprojection(tmp_path: Path) -> None:
    src = askap_like_map(tmp_path / "askap.fits")
    out = tmp_path / "fine"
    settings = json.dumps({"pixel_scale_arcsec": 1.0})
    assert main(["ingest-map", str(src), "--out", str(out), "--settings", settings, "-q"]) == 0
    original = read_map(src)
    fine = read_map(out / "map.fits")
    assert fine.shape == (2 * N, 2 * N)
    assert fine.pixel_scale_arcsec == pytest.approx(1.0, rel=1e-9)
    np.testing.assert_allclose(fine.wcs.wcs.crval, original.wcs.wcs.crval)
    # the field corners stay on the same sky position (pixel edges at -0.5)
    corner_orig = pixel_to_icrs(original.wcs, -0.5, -0.5)
    corner_fine = pixel_to_icrs(fine.wcs, -0.5, -0.5)
    np.testing.assert_allclose(corner_fine, corner_orig, atol=1e-9)
    # the point source keeps its position and its integrated flux (Jy, aperture sum / beam
    # area in pixels); bilinear interpolation lowers its sampled peak: new pixel centres sit
    # 0.25 old pixels from the old peak pixel, with the beam 3 x 4 old pixels FWHM, giving
    # (0.75 + 0.25 * 2**(-4 / 3**2)) * (0.75 + 0.25 * 2**(-4 / 4**2)) = 0.897 of the peak
    iy, ix = np.unravel_index(np.nanargmax(fine.data), fine.shape)
    ra_f, dec_f = pixel_to_icrs(fine.wcs, float(ix), float(iy))
    ra_o, dec_o = pixel_to_icrs(original.wcs, 70.0, 50.0)
    assert float(np.hypot((ra_f - ra_o) * np.cos(np.radians(-20.0)), dec_f - dec_o)) * 3600 < 1.0
    expected_peak = (0.75 + 0.25 * 2 ** (-4 / 9)) * (0.75 + 0.25 * 2 ** (-4 / 16))
    assert float(np.nanmax(fine.data)) == pytest.approx(
        expected_peak * float(np.nanmax(original.data)), rel=0.02
    )
    flux_orig = np.nansum(original.data[35:66, 55:86]) / original.beam_area_pixels
    flux_fine = np.nansum(fine.data[70:132, 110:172]) / fine.beam_area_pixels
    assert flux_fine == pytest.approx(flux_orig, rel=0.02)
    assert flux_orig == pytest.approx(0.05, rel=0.05)  # a 50 mJy point source
    report = json.loads((out / "ingest.json").read_text())
    assert report["reprojection"]["from_pixel_scale_arcsec"] == pytest.approx(2.0)


def _assert_one_line_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], out: Path, pattern: str
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if "skysift ingest-map: error:" in line]
    assert len(lines) == 1
    assert pattern in lines[0]
    assert not out.exists()
    assert not any(p.name.startswith(f".{out.name}.tmp") for p in out.parent.iterdir())


def test_cli_errors_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    text = tmp_path / "text.fits"
    text.write_text("SIMPLE? no, just text\n" * 100)
    _assert_one_line_error(capsys, ["ingest-map", str(text), "--out", str(out)], out, "not a FITS")

    linear = tmp_path / "linear.fits"
    hdr = fits.Header({"CTYPE1": "X", "CTYPE2": "Y", "BMAJ": 1e-3, "BMIN": 1e-3})
    fits.PrimaryHDU(np.ones((20, 20), np.float32), hdr).writeto(linear)
    _assert_one_line_error(
        capsys, ["ingest-map", str(linear), "--out", str(out)], out, "no celestial WCS"
    )

    src = askap_like_map(tmp_path / "askap.fits")
    with fits.open(src) as hdul:
        blank = fits.PrimaryHDU(np.full_like(hdul[0].data, np.nan), hdul[0].header)
        nobeam_header = hdul[0].header.copy()
        nobeam = fits.PrimaryHDU(hdul[0].data, nobeam_header)
    blank.writeto(tmp_path / "blank.fits")
    _assert_one_line_error(
        capsys, ["ingest-map", str(tmp_path / "blank.fits"), "--out", str(out)], out, "all pixels"
    )
    for key in ("BMAJ", "BMIN", "BPA"):
        del nobeam.header[key]
    nobeam.writeto(tmp_path / "nobeam.fits")
    argv = ["ingest-map", str(tmp_path / "nobeam.fits"), "--out", str(out)]
    _assert_one_line_error(capsys, argv, out, "no beam keywords (BMAJ/BMIN); pass --beam")
    _assert_one_line_error(capsys, [*argv, "--survey", "nope"], out, "unknown survey 'nope'")
    _assert_one_line_error(capsys, [*argv, "--beam", "5"], out, "expected BMAJ BMIN [BPA]")
    assert main([*argv, "--beam", "9", "7", "15", "-q"]) == 0
    assert read_map(out / "map.fits").beam.bpa_deg == 15.0
    # an existing output is not replaced without --overwrite
    assert main([*argv, "--beam", "9", "7", "-q"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--beam", "9", "7", "--overwrite", "-q"]) == 0
    assert read_map(out / "map.fits").beam.bpa_deg == 0.0


def test_ingest_real_first_cutout(shared_data: Path, tmp_path: Path) -> None:
    cutout = sorted((shared_data / "first_cutouts").glob("*.fits"))[0]
    out = tmp_path / "first"
    assert main(["ingest-map", str(cutout), "--survey", "FIRST", "--out", str(out), "-q"]) == 0
    report = json.loads((out / "ingest.json").read_text())
    assert report["beam_source"] == "survey table (FIRST)"
    assert len(report["header_cards_fixed_or_dropped"]) == 5
    with fits.open(out / "map.fits") as hdul:
        hdul.verify("exception")  # the written map has no unprintable card left
        assert hdul[0].header["BMAJ"] * 3600 == pytest.approx(5.4)
    assert 1e-4 < report["median_rms_jy_per_beam"] < 3e-4
