"""`skysift import-annotations`: catalogue and DS9 labels -> truth + segmentation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from skysift.cli import main
from skysift.errors import InputFileError
from skysift.io.annotations import import_annotations
from skysift.io.catalogue import TRUTH_COLUMN_NAMES, read_truth
from skysift.io.fits_map import read_map
from skysift.io.header import pixel_to_icrs
from skysift.io.ingest import ingest_map

N = 200
SCALE = 2.0  # arcsec / px
BMAJ, BMIN, BPA = 8.0, 5.0, 30.0
RMS = 5e-5  # Jy/beam
FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))

#: (x, y, peak Jy/beam, major, minor [arcsec], pa [deg]) of the observed (convolved) Gaussians
POINT_A = (60.0, 80.0, 0.020, BMAJ, BMIN, BPA)
POINT_B = (150.3, 139.6, 0.005, BMAJ, BMIN, BPA)
EXTENDED = (110.0, 50.0, None, math.hypot(20.0, BMAJ), math.hypot(10.0, BMIN), 60.0)
EXT_FLUX = 0.030  # Jy


def gaussian(
    x0: float, y0: float, peak: float, major: float, minor: float, pa: float
) -> np.ndarray:
    """Elliptical Gaussian on the north-up, east-left test grid (PA east of north)."""
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    north, east = (yy - y0) * SCALE, -(xx - x0) * SCALE
    t = math.radians(pa)
    along = math.cos(t) * north + math.sin(t) * east
    across = -math.sin(t) * north + math.cos(t) * east
    s_maj, s_min = major * FWHM_TO_SIGMA, minor * FWHM_TO_SIGMA
    return peak * np.exp(-0.5 * ((along / s_maj) ** 2 + (across / s_min) ** 2))


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ingested map with two point sources, one extended source and a NaN strip."""
    folder = tmp_path_factory.mktemp("annot")
    data = np.random.default_rng(5).normal(0.0, RMS, (N, N))
    data += gaussian(*POINT_A) + gaussian(*POINT_B)
    x, y, _, major, minor, pa = EXTENDED
    ext_peak = EXT_FLUX * BMAJ * BMIN / (major * minor)  # Jy/beam for 30 mJy
    data += gaussian(x, y, ext_peak, major, minor, pa)
    data[:, -10:] = np.nan
    header = fits.Header()
    for key, value in {
        "BUNIT": "JY/BEAM", "BMAJ": BMAJ / 3600, "BMIN": BMIN / 3600, "BPA": BPA,
        "CTYPE1": "RA---SIN", "CRVAL1": 210.0, "CRPIX1": 100.5, "CDELT1": -SCALE / 3600,
        "CTYPE2": "DEC--SIN", "CRVAL2": 5.0, "CRPIX2": 100.5, "CDELT2": SCALE / 3600,
        "RESTFRQ": 1.4e9,
    }.items():  # fmt: skip
        header[key] = value
    fits.PrimaryHDU(data.astype(np.float32), header).writeto(folder / "raw.fits")
    ingest_map(folder / "raw.fits", folder / "ingested", name="testfield")
    return folder / "ingested" / "map.fits"


def _catalogue(path: Path, map_path: Path) -> Path:
    wcs = read_map(map_path).wcs
    xs = np.array([POINT_A[0], EXTENDED[0], POINT_B[0], -50.0, 195.0])
    ys = np.array([POINT_A[1], EXTENDED[1], POINT_B[1], 20.0, 100.0])
    ra, dec = pixel_to_icrs(wcs, xs, ys)
    table = Table(
        {
            "RAJ2000": ra,
            "DEJ2000": dec,
            "Class": ["compact", "extended", "compact", "compact", "compact"],
            "major": [np.nan, 20.0, np.nan, np.nan, np.nan],
            "minor": [np.nan, 10.0, np.nan, np.nan, np.nan],
            "pa": [np.nan, 60.0, np.nan, np.nan, np.nan],
        }
    )
    table.write(path, format="ascii.csv")
    return path


def test_catalogue_import(ingested: Path, tmp_path: Path) -> None:
    cat = _catalogue(tmp_path / "labels.csv", ingested)
    out = tmp_path / "truth"
    assert main(["import-annotations", "--map", str(ingested), "--catalogue", str(cat),
                 "--out", str(out), "-q"]) == 0  # fmt: skip
    truth = read_truth(out / "truth.fits")
    assert tuple(truth.colnames) == TRUTH_COLUMN_NAMES
    csv = Table.read(out / "truth.csv", format="ascii.csv")
    assert tuple(csv.colnames) == TRUTH_COLUMN_NAMES and len(csv) == 3
    # the row off the map and the row on the NaN strip are skipped
    assert list(truth["id"]) == [1, 2, 3]
    assert list(truth["class"]) == ["compact", "extended", "compact"]
    assert set(truth["map"]) == {"testfield"}
    np.testing.assert_allclose(truth["x"], [POINT_A[0], EXTENDED[0], POINT_B[0]], atol=1e-6)
    np.testing.assert_allclose(truth["y"], [POINT_A[1], EXTENDED[1], POINT_B[1]], atol=1e-6)
    # masks of semi-axes 1.5 FWHM hold 1 - 2**-9 = 99.8% of a Gaussian's flux
    assert truth["int_flux"][0] == pytest.approx(POINT_A[2], rel=0.05)
    assert truth["int_flux"][1] == pytest.approx(EXT_FLUX, rel=0.05)
    assert truth["int_flux"][2] == pytest.approx(POINT_B[2], rel=0.05)
    assert truth["peak_flux"][0] == pytest.approx(POINT_A[2], rel=0.03)
    np.testing.assert_allclose(truth["local_rms"], RMS, rtol=0.1)
    assert truth["snr"][0] == pytest.approx(POINT_A[2] / RMS, rel=0.1)
    assert list(truth["n_islands"]) == [1, 1, 1]
    assert list(truth["n_components"]) == [1, 1, 1]
    assert list(truth["n_peaks"]) == [1, 1, 1]
    major: np.ndarray = np.ma.filled(np.ma.asarray(truth["major_arcsec"], dtype=float), np.nan)
    assert major[1] == 20.0 and np.isnan(major[0])  # no size given: NaN
    seg = fits.getdata(out / "segmentation.fits")
    assert seg.dtype.kind == "i" and seg.dtype.itemsize == 4
    assert set(np.unique(seg)) == {0, 1, 2, 3}
    for row in truth:
        ys, xs = np.nonzero(seg == row["id"])
        assert len(xs) == row["mask_area"]
        assert (xs.min(), xs.max() + 1) == (row["bbox_xmin"], row["bbox_xmax"])
        assert (ys.min(), ys.max() + 1) == (row["bbox_ymin"], row["bbox_ymax"])
    # beam ellipse mask: pi * (1.5 * 8") * (1.5 * 5") / (2"/px)^2 = 70.7 px
    assert truth["mask_area"][0] == pytest.approx(math.pi * 12 * 7.5 / 4, rel=0.08)
    # the extended mask is elongated along PA 60 deg east of north
    ys, xs = np.nonzero(seg == 2)
    cov = np.cov(np.vstack([xs - xs.mean(), ys - ys.mean()]))
    vals, vecs = np.linalg.eigh(cov)
    major_vec = vecs[:, np.argmax(vals)]
    expected = np.array([-math.sin(math.radians(60)), math.cos(math.radians(60))])
    assert abs(float(major_vec @ expected)) > math.cos(math.radians(4))
    assert truth["las_arcsec"][1] == pytest.approx(2 * 1.5 * EXTENDED[3], rel=0.08)
    # ra/dec are ICRS and match the catalogue positions
    cat_table = Table.read(cat, format="ascii.csv")
    np.testing.assert_allclose(truth["ra"], cat_table["RAJ2000"][:3], atol=1e-9)
    np.testing.assert_allclose(truth["dec"], cat_table["DEJ2000"][:3], atol=1e-9)


def test_ds9_regions_import(ingested: Path, tmp_path: Path) -> None:
    wcs = read_map(ingested).wcs
    ra, dec = pixel_to_icrs(wcs, np.array([POINT_A[0]]), np.array([POINT_A[1]]))
    reg = tmp_path / "labels.reg"
    reg.write_text(
        "# Region file format: DS9 version 4.1\n"
        "global color=green\n"
        "icrs\n"
        f'circle({ra[0]:.8f},{dec[0]:.8f},24") # text={{extended}}\n'
        "image\n"
        "ellipse(111,51,30,15,150) # tag={diffuse}\n"
        "polygon(141,131,161,131,161,151,141,151)\n"
        "point(31,31) # point=cross\n"
        "circle(500,500,10) # text={spurious}\n"
    )
    out = tmp_path / "regions_truth"
    truth = import_annotations(ingested, out, regions=reg)
    assert list(truth["id"]) == [1, 2, 3, 4]
    assert list(truth["class"]) == ["extended", "diffuse", "compact", "compact"]
    # circle of radius 24" = 12 px: area pi * 12^2 = 452 px; holds the whole 20 mJy source
    assert truth["mask_area"][0] == pytest.approx(math.pi * 144, rel=0.03)
    assert truth["int_flux"][0] == pytest.approx(POINT_A[2], rel=0.05)
    assert truth["x"][0] == pytest.approx(POINT_A[0], abs=1e-4)  # 8 decimals in the file
    # DS9 image coordinates are 1-based: the polygon (141..161) is 0-based 140..160
    assert truth["x"][2] == pytest.approx(150.0, abs=1e-6)
    assert truth["int_flux"][2] == pytest.approx(POINT_B[2], rel=0.05)
    assert (truth["x"][3], truth["y"][3]) == (30.0, 30.0)
    seg = fits.getdata(out / "segmentation.fits")
    assert seg[80, 60] == 1 and seg[30, 30] == 4 and seg[140, 150] == 3


def test_masks_from_segmentation(ingested: Path, tmp_path: Path) -> None:
    radio_map = read_map(ingested)
    seg = np.zeros((N, N), dtype=np.int32)
    seg[70:91, 50:71] = 7
    seg[130:150, 140:161] = 9
    fits.PrimaryHDU(seg).writeto(tmp_path / "masks.fits")
    ra, dec = pixel_to_icrs(radio_map.wcs, np.array([60.0, 150.0]), np.array([80.0, 139.0]))
    Table({"ra": ra, "dec": dec, "class": ["compact", "compact"], "id": [7, 9]}).write(
        tmp_path / "cat.fits"
    )
    truth = import_annotations(
        ingested, tmp_path / "out", catalogue=tmp_path / "cat.fits", masks=tmp_path / "masks.fits"
    )
    assert list(truth["id"]) == [7, 9]
    assert list(truth["mask_area"]) == [21 * 21, 20 * 21]
    assert truth["int_flux"][0] == pytest.approx(POINT_A[2], rel=0.05)


def test_bad_inputs(ingested: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    Table({"x": [1.0], "dec": [5.0], "class": ["compact"]}).write(tmp_path / "nora.csv")
    with pytest.raises(InputFileError, match=r"no RA column \(looked for ra, raj2000"):
        import_annotations(ingested, out, catalogue=tmp_path / "nora.csv")
    (tmp_path / "empty.csv").write_text("ra,dec,class\n210.0,5.0,compact\n210.001,5.0,\n")
    with pytest.raises(InputFileError, match=r"row 2: empty class"):
        import_annotations(ingested, out, catalogue=tmp_path / "empty.csv")
    (tmp_path / "far.reg").write_text('fk5\ncircle(30.0,-40.0,10") # text={compact}\n')
    argv = ["import-annotations", "--map", str(ingested), "--regions", str(tmp_path / "far.reg"),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err) == 1 and "no annotation falls on the map" in err[0]
    assert not out.exists()


def test_island_masks_and_auto_class(tmp_path: Path) -> None:
    """Masks grown to the islands of emission; 'auto' resolved by the number of islands."""
    from skysift.io.config import IngestConfig

    data = np.random.default_rng(9).normal(0.0, RMS, (N, N))
    lobe = 0.005  # Jy/beam, S/N 100, beam-sized: 5 mJy each
    data += gaussian(70.0, 100.0, lobe, BMAJ, BMIN, BPA) + gaussian(
        130.0, 100.0, lobe, BMAJ, BMIN, BPA
    )
    data += gaussian(100.0, 160.0, 0.002, BMAJ, BMIN, BPA)
    header = fits.Header()
    for key, value in {
        "BUNIT": "JY/BEAM", "BMAJ": BMAJ / 3600, "BMIN": BMIN / 3600, "BPA": BPA,
        "CTYPE1": "RA---SIN", "CRVAL1": 210.0, "CRPIX1": 100.5, "CDELT1": -SCALE / 3600,
        "CTYPE2": "DEC--SIN", "CRVAL2": 5.0, "CRPIX2": 100.5, "CDELT2": SCALE / 3600,
    }.items():  # fmt: skip
        header[key] = value
    fits.PrimaryHDU(data.astype(np.float32), header).writeto(tmp_path / "raw.fits")
    ingest_map(tmp_path / "raw.fits", tmp_path / "ingested", name="double")
    map_path = tmp_path / "ingested" / "map.fits"
    ra, dec = pixel_to_icrs(read_map(map_path).wcs, np.array([100.0, 100.0, 30.0]),
                            np.array([100.0, 160.0, 170.0]))  # fmt: skip
    # a 60" source around the midpoint of the lobes (the circle covers both), a single
    # lobe, a labelled spot of noise only, and a source of another map on the far side of
    # the sky (no pixel position in the SIN projection: skipped)
    cat = tmp_path / "cat.csv"
    Table({"ra": [*ra, 30.0], "dec": [*dec, -5.0], "class": ["auto", "auto", "compact", "auto"],
           "major": [60.0, np.nan, np.nan, 90.0]}).write(cat, format="ascii.csv")  # fmt: skip
    settings = IngestConfig(annotation_masks="islands")
    truth = import_annotations(map_path, tmp_path / "islands", catalogue=cat, settings=settings)
    assert list(truth["class"]) == ["extended-multi", "extended", "compact"]
    assert list(truth["n_islands"]) == [2, 1, 1]
    # 3-sigma islands of S/N-100 lobes hold ~97% of their flux
    assert truth["int_flux"][0] == pytest.approx(2 * lobe, rel=0.05)
    assert truth["int_flux"][1] == pytest.approx(0.002, rel=0.08)
    seg = fits.getdata(tmp_path / "islands" / "segmentation.fits")
    snr = (fits.getdata(map_path) - fits.getdata(map_path.with_name("background.fits"))) / (
        fits.getdata(map_path.with_name("rms.fits"))
    )
    assert snr[seg == 1].min() >= 3.0 and snr[seg == 2].min() >= 3.0
    # the noise spot grows to no island: it keeps its beam ellipse (70.7 px)
    assert truth["mask_area"][2] == pytest.approx(math.pi * 12 * 7.5 / 4, rel=0.08)
    shapes = import_annotations(map_path, tmp_path / "shapes", catalogue=cat)
    assert list(shapes["class"]) == ["extended", "extended", "compact"]  # one ellipse each
    assert shapes["mask_area"][0] > 3 * truth["mask_area"][0]
