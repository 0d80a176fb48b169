"""The ``simulate-sky`` stage: files, WCS, truth, morphology guarantees, reproducibility, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from scipy import ndimage

from skysift.cli import main as cli_main
from skysift.io.catalogue import (
    TRUTH_COLUMN_NAMES,
    read_truth,
    truth_table_from_rows,
    write_table,
)
from skysift.io.fits_map import GAUSSIAN_AREA_FACTOR
from skysift.sky.config import SimulationConfig
from skysift.sky.simulate import simulate_sky

EIGHT = np.ones((3, 3), dtype=bool)

SMALL = {
    "geometry": {
        "nx": 320,
        "ny": 288,
        "pixel_scale_arcsec": 2.0,
        "ra_deg": 201.4,
        "dec_deg": -43.0,
    },
    "beam": {"bmaj_arcsec": 10.0, "bmin_arcsec": 8.0, "bpa_deg": 20.0},
    "noise": {
        "rms_jy": 5e-5,
        "edge_to_centre_ratio": 1.5,
        "blank_margin_pix": 10,
        "blank_radius_fraction": 1.05,
    },
    "compact": {"count": 60},
    "extended": {"count": 8, "size_max_arcsec": 40.0},
    "extended_multi": {"count": 4, "las_min_arcsec": 50.0, "las_max_arcsec": 90.0},
    "diffuse": {"count": 1, "size_min_arcsec": 80.0, "size_max_arcsec": 120.0},
    "spurious": {"count": 2},
}


def _run(out: Path, seed: int = 11, settings: dict | None = None, *extra: str) -> int:
    return cli_main(
        [
            "simulate-sky",
            "--settings",
            json.dumps(SMALL if settings is None else settings),
            "--seed",
            str(seed),
            "--name",
            "small",
            "--out",
            str(out),
            "-q",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sky") / "small"
    assert _run(out) == 0
    return out


def test_stage_writes_all_outputs(small_run: Path) -> None:
    names = sorted(p.name for p in small_run.iterdir())
    assert names == [
        "map.fits",
        "quicklook.png",
        "rms.fits",
        "segmentation.fits",
        "truth.csv",
        "truth.fits",
    ]
    assert not list(small_run.parent.glob(".small.tmp-*"))
    assert (small_run / "quicklook.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_map_header_is_a_real_radio_map(small_run: Path) -> None:
    with fits.open(small_run / "map.fits") as hdul:
        header = hdul[0].header
        data = hdul[0].data
    assert data.dtype == np.dtype(">f4")
    assert data.shape == (288, 320)
    assert header["BUNIT"] == "JY/BEAM"
    assert header["CTYPE1"] == "RA---SIN" and header["CTYPE2"] == "DEC--SIN"
    assert header["CRVAL1"] == pytest.approx(201.4) and header["CRVAL2"] == pytest.approx(-43.0)
    assert header["CDELT1"] < 0 < header["CDELT2"]
    assert header["BMAJ"] == pytest.approx(10.0 / 3600) and header["BMIN"] == pytest.approx(
        8.0 / 3600
    )
    assert header["BPA"] == pytest.approx(20.0)
    assert header["RESTFRQ"] == pytest.approx(943.5e6) and header["FREQ"] == pytest.approx(943.5e6)
    with fits.open(small_run / "segmentation.fits") as hdul:
        assert hdul[0].data.dtype.kind == "i" and hdul[0].data.dtype.itemsize == 4


def test_truth_has_the_contract_columns_and_all_objects(small_run: Path) -> None:
    truth = read_truth(small_run / "truth.csv")
    assert tuple(truth.colnames) == TRUTH_COLUMN_NAMES
    counts = {c: int(np.sum(truth["class"] == c)) for c in set(truth["class"])}
    assert counts == {
        "compact": 60,
        "extended": 8,
        "extended-multi": 4,
        "diffuse": 1,
        "spurious": 2,
    }
    assert list(truth["id"]) == list(range(1, len(truth) + 1))
    # Faint sources below the detection limit are in the truth too.
    assert np.sum(truth["snr"] < 3.0) > 10
    np.testing.assert_allclose(truth["snr"], truth["peak_flux"] / truth["local_rms"])


def test_pixel_sky_round_trip_through_the_written_wcs(small_run: Path) -> None:
    truth = read_truth(small_run / "truth.fits")
    wcs = WCS(fits.getheader(small_run / "map.fits"))
    ra, dec = wcs.pixel_to_world_values(truth["x"], truth["y"])
    np.testing.assert_allclose(ra, truth["ra"], atol=1e-9)
    np.testing.assert_allclose(dec, truth["dec"], atol=1e-9)
    x, y = wcs.world_to_pixel_values(truth["ra"], truth["dec"])
    np.testing.assert_allclose(x, truth["x"], atol=1e-6)
    np.testing.assert_allclose(y, truth["y"], atol=1e-6)
    # East is left: of two objects at the same row, the one at larger x has the smaller RA.
    r1, _ = wcs.pixel_to_world_values(100.0, 150.0)
    r2, _ = wcs.pixel_to_world_values(200.0, 150.0)
    assert r2 < r1


def test_masks_and_truth_columns_agree_with_segmentation(small_run: Path) -> None:
    truth = read_truth(small_run / "truth.fits")
    seg = fits.getdata(small_run / "segmentation.fits")
    for row in truth:
        mask = seg == row["id"]
        assert int(mask.sum()) == row["mask_area"]
        if row["mask_area"] == 0:
            assert row["bbox_xmin"] == -1 and row["n_islands"] == 0
            continue
        ys, xs = np.nonzero(mask)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (
            row["bbox_xmin"],
            row["bbox_ymin"],
            row["bbox_xmax"],
            row["bbox_ymax"],
        )
        _, n = ndimage.label(mask, structure=EIGHT)
        assert n == row["n_islands"]
        diag = np.hypot(xs.max() - xs.min(), ys.max() - ys.min()) * 2.0
        assert 0.0 <= row["las_arcsec"] <= diag + 1e-9


def test_every_radio_galaxy_has_several_islands(tmp_path: Path) -> None:
    settings = {
        **SMALL,
        "geometry": {"nx": 512, "ny": 512},
        "compact": {"count": 0},
        "extended": {"count": 0},
        "diffuse": {"count": 0},
        "spurious": {"count": 0},
        "extended_multi": {"count": 12, "flux_min_jy": 1e-4},
    }
    out = tmp_path / "multi"
    assert _run(out, 5, settings) == 0
    truth = read_truth(out / "truth.fits")
    seg = fits.getdata(out / "segmentation.fits")
    assert len(truth) == 12
    for row in truth:
        _, n = ndimage.label(seg == row["id"], structure=EIGHT)
        assert n >= 2, f"radio galaxy {row['id']} has {n} island(s)"
        assert row["n_components"] >= 2  # two lobes or plumes, plus hotspots, core, jets
        # NaN in the file (astropy reads NaN of a FITS table as masked)
        assert np.ma.is_masked(row["major_arcsec"]) or np.isnan(row["major_arcsec"])


def test_extended_sources_are_one_island_some_with_several_peaks() -> None:
    cfg = SimulationConfig.model_validate(
        {
            **SMALL,
            "geometry": {"nx": 512, "ny": 512},
            "noise": {"blank_margin_pix": 0},
            "compact": {"count": 0},
            "extended_multi": {"count": 0},
            "diffuse": {"count": 0},
            "spurious": {"count": 0},
            "extended": {"count": 25, "irregular_fraction": 1.0, "sersic_fraction": 0.0},
        }
    )
    sky = simulate_sky(cfg, seed=3, name="t")
    truth = sky.truth
    isolated = truth["mask_area"] > 0
    assert np.mean(truth["n_islands"][isolated] == 1) > 0.8  # overlaps may split a few
    assert np.any(truth["n_peaks"] >= 2)
    assert set(truth["n_components"]) <= {2, 3}


def test_spurious_artefacts_belong_to_bright_parents(small_run: Path) -> None:
    truth = read_truth(small_run / "truth.fits")
    spurious = truth[truth["class"] == "spurious"]
    assert len(spurious) == 2
    compact = truth[truth["class"] == "compact"]
    brightest = set(compact["id"][np.argsort(-compact["peak_flux"])[:2]])
    assert set(spurious["parent_id"]) == brightest
    for row in spurious:
        parent = truth[truth["id"] == row["parent_id"]][0]
        assert parent["snr"] >= 400.0 * (1 - 1e-9)
        assert parent["class"] == "compact"
        assert 0.005 < row["peak_flux"] / parent["peak_flux"] < 0.05
        assert row["mask_area"] > 0
    others = truth[truth["class"] != "spurious"]
    assert np.all(others["parent_id"] == 0)


def test_artefacts_have_negative_lobes_and_diffuse_is_faint() -> None:
    cfg = SimulationConfig.model_validate(
        {**SMALL, "compact": {"count": 5}, "spurious": {"count": 1}}
    )
    sky = simulate_sky(cfg, seed=9, name="t")
    parent = sky.truth[sky.truth["class"] == "compact"]
    row = parent[np.argmax(parent["peak_flux"])]
    iy, ix = round(row["y"]), round(row["x"])
    around = sky.model[iy - 30 : iy + 31, ix - 30 : ix + 31]
    assert around.min() < -0.005 * row["peak_flux"]
    diffuse = sky.truth[sky.truth["class"] == "diffuse"]
    assert np.all((diffuse["snr"] >= 1.0 - 1e-6) & (diffuse["snr"] <= 5.0 + 1e-6))


def test_same_seed_identical_files_other_seed_different(small_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    other = tmp_path / "other"
    assert _run(again) == 0
    assert _run(other, 12) == 0
    for name in ("map.fits", "truth.csv", "segmentation.fits"):
        assert (again / name).read_bytes() == (small_run / name).read_bytes()
    assert (other / "map.fits").read_bytes() != (small_run / "map.fits").read_bytes()
    assert (other / "truth.csv").read_bytes() != (small_run / "truth.csv").read_bytes()


def test_blanked_borders_and_no_object_centred_in_them(small_run: Path) -> None:
    data = fits.getdata(small_run / "map.fits")
    rms = fits.getdata(small_run / "rms.fits")
    seg = fits.getdata(small_run / "segmentation.fits")
    nan = np.isnan(data)
    assert nan[:10, :].all() and nan[:, -10:].all()
    assert nan[0, 0] and nan[20, 20]  # corner outside the circular mosaic edge
    assert not nan[144, 160]
    np.testing.assert_array_equal(np.isnan(rms), nan)
    assert not np.any(seg[nan])
    truth = read_truth(small_run / "truth.fits")
    assert np.all(
        np.isfinite(data[np.rint(truth["y"]).astype(int), np.rint(truth["x"]).astype(int)])
    )


def test_beam_area_matches_the_map_sum_of_a_point_source() -> None:
    # Sanity of the unit convention used by every flux in the truth: Jy/beam -> Jy.
    area_arcsec2 = GAUSSIAN_AREA_FACTOR * 10.0 * 8.0
    cfg = SimulationConfig.model_validate(
        {
            **SMALL,
            "noise": {"blank_margin_pix": 0},
            "compact": {"count": 1, "flux_min_jy": 0.2, "flux_max_jy": 0.2000001},
            "extended": {"count": 0},
            "extended_multi": {"count": 0},
            "diffuse": {"count": 0},
            "spurious": {"count": 0},
        }
    )
    sky = simulate_sky(cfg, seed=1, name="t")
    assert sky.model.sum(dtype=np.float64) / (area_arcsec2 / 4.0) == pytest.approx(0.2, rel=5e-3)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"noise": {"rms_jyy": 1e-4}}, "simulate.noise.rms_jyy"),
        ({"noise": {"rms_jy": -1e-4}}, "simulate.noise.rms_jy"),
        ({"beam": {"bmaj_arcsec": 5.0, "bmin_arcsec": 8.0}}, "exceeds bmaj_arcsec"),
        ({"compact": {"flux_min_jy": 1.0, "flux_max_jy": 0.1}}, "must exceed flux_min_jy"),
    ],
)
def test_bad_settings_fail_with_one_line_and_no_output(
    settings: dict, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bad"
    assert _run(out, 1, settings) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    tiny = {
        **SMALL,
        "geometry": {"nx": 64, "ny": 64},
        "compact": {"count": 3},
        "extended": {"count": 0},
        "extended_multi": {"count": 0},
        "diffuse": {"count": 0},
        "spurious": {"count": 0},
        "noise": {"blank_margin_pix": 0},
    }
    assert _run(out, 1, tiny) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep.txt").exists()
    assert _run(out, 1, tiny, "--overwrite") == 0
    assert (out / "map.fits").exists() and not (out / "keep.txt").exists()


def test_truth_table_round_trips_through_files(small_run: Path, tmp_path: Path) -> None:
    truth = read_truth(small_run / "truth.fits")
    rows = [
        {name: (row[name] if not np.ma.is_masked(row[name]) else np.nan) for name in truth.colnames}
        for row in truth
    ]
    rebuilt = truth_table_from_rows(rows)
    for name in truth.colnames:
        assert rebuilt[name].unit == truth[name].unit
    write_table(rebuilt, tmp_path / "a.fits", tmp_path / "a.csv")
    assert (tmp_path / "a.csv").read_bytes() == (small_run / "truth.csv").read_bytes()
    assert len(truth_table_from_rows([])) == 0
    with pytest.raises(ValueError, match="lacks columns"):
        truth_table_from_rows([{"id": 1}])
