"""`skysift run-baseline`: outputs, one-line errors, nothing half written; converter pieces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from skysift.baselines.common import deconvolved_major_arcsec, size_class
from skysift.baselines.pybdsf import split_islands
from skysift.cli import main
from skysift.io.catalogue import TRUTH_COLUMN_NAMES
from skysift.io.fits_map import write_map
from skysift.sky.config import SimulationConfig
from skysift.sky.simulate import simulate_sky

SMALL = {
    "geometry": {"nx": 128, "ny": 128},
    "noise": {"blank_margin_pix": 4, "edge_to_centre_ratio": 1.0},
    "compact": {"count": 12, "flux_min_jy": 5e-4, "flux_max_jy": 5e-3},
    "extended": {"count": 0},
    "extended_multi": {"count": 0},
    "diffuse": {"count": 0},
    "spurious": {"count": 0},
}


@pytest.fixture(scope="module")
def map_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sky = simulate_sky(SimulationConfig.model_validate(SMALL), seed=11, name="small")
    return write_map(tmp_path_factory.mktemp("map") / "map.fits", sky.radio_map)


@pytest.mark.parametrize("finder", ["pybdsf", "aegean"])
def test_stage_writes_catalogue_segmentation_runtime(
    finder: str, map_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / finder
    assert main(["run-baseline", finder, str(map_path), "--out", str(out), "-q"]) == 0
    cat = Table.read(out / "catalogue.fits")
    assert tuple(cat.colnames) == TRUTH_COLUMN_NAMES
    assert cat["ra"].unit == "deg" and cat["int_flux"].unit == "Jy"
    assert len(cat) >= 10  # 12 sources of 17-170 sigma
    assert set(cat["map"]) == {"small"}
    csv = Table.read(out / "catalogue.csv", format="ascii.csv")
    np.testing.assert_allclose(csv["int_flux"], cat["int_flux"], rtol=1e-12)
    seg = fits.getdata(out / "segmentation.fits")
    assert seg.shape == (128, 128) and seg.dtype.kind == "i"
    assert set(np.unique(seg)) - {0} == set(cat["id"][cat["mask_area"] > 0])
    runtime = json.loads((out / "runtime.json").read_text())
    assert runtime["finder"] == finder and runtime["n_entries"] == len(cat)
    assert runtime["wall_s"] > 0 and runtime["cpu_s"] >= 0 and runtime["peak_rss_mib"] > 50
    assert runtime["parameters"]["version"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries


def test_settings_reach_the_finder(map_path: Path, tmp_path: Path) -> None:
    settings = json.dumps({"aegean": {"seedclip": 50.0, "floodclip": 10.0}})
    out = tmp_path / "strict"
    args = ["run-baseline", "aegean", str(map_path), "--out", str(out), "--settings", settings]
    assert main([*args, "-q"]) == 0
    cat = Table.read(out / "catalogue.fits")
    assert np.all(cat["snr"] >= 40)  # only the brightest survive a 50 sigma seed
    assert json.loads((out / "runtime.json").read_text())["parameters"]["seedclip"] == 50.0


def test_map_without_beam_is_one_line(
    map_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with fits.open(map_path) as hdul:
        header = hdul[0].header.copy()
        data = hdul[0].data
    for key in ("BMAJ", "BMIN", "BPA"):
        del header[key]
    bad = tmp_path / "nobeam.fits"
    fits.PrimaryHDU(data, header).writeto(bad)
    out = tmp_path / "out"
    assert main(["run-baseline", "pybdsf", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no beam keywords" in err[0] and "--beam" in err[0]
    assert not out.exists()
    # the flag it suggests works
    args = ["run-baseline", "pybdsf", str(bad), "--out", str(out), "--beam", "12", "10", "30"]
    assert main([*args, "-q"]) == 0
    assert (out / "catalogue.fits").is_file()


def test_finder_crash_is_one_line_and_nothing_written(
    map_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bdsf

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(bdsf, "process_image", boom)
    out = tmp_path / "out"
    assert main(["run-baseline", "pybdsf", str(map_path), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "PyBDSF failed on" in err[0] and str(map_path) in err[0] and "simulated crash" in err[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_settings_and_existing_output(
    map_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = json.dumps({"pybdsf": {"thresh_isl": 6.0, "thresh_pix": 5.0}})
    args = ["run-baseline", "pybdsf", str(map_path), "--out", str(tmp_path / "o")]
    assert main([*args, "--settings", settings]) == 1
    err = capsys.readouterr().err
    assert "baselines.pybdsf" in err and "thresh_isl" in err
    assert main([*args, "--settings", '{"aegean": {"seedclp": 5}}']) == 1
    assert "baselines.aegean.seedclp" in capsys.readouterr().err
    (tmp_path / "o").mkdir()
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err


def test_split_islands_by_nearest_gaussian() -> None:
    islands = np.zeros((5, 10), dtype=np.int32)
    islands[1:4, 0:9] = 1  # one island holding two sources
    islands[0, 9] = 2  # an island without any fitted Gaussian
    gauss_xy = np.array([[1.0, 2.0], [2.0, 2.0], [7.0, 2.0]])  # (x, y)
    out = split_islands(islands, gauss_xy, np.array([1, 1, 1]), np.array([5, 5, 9]))
    assert out.dtype == np.int32
    # columns 0-4 are nearer to the Gaussians of source 5 (x <= 4.5), 5-8 to source 9
    np.testing.assert_array_equal(out[2, :9], [5, 5, 5, 5, 5, 9, 9, 9, 9])
    assert (out[1:4, :5] == 5).all() and (out[1:4, 5:9] == 9).all()
    assert out[0, 9] == 0 and (out[islands == 0] == 0).all()


def test_size_rule() -> None:
    assert deconvolved_major_arcsec(13.0, 12.0) == pytest.approx(5.0)
    assert deconvolved_major_arcsec(11.0, 12.0) == 0.0
    assert size_class(5.0, 12.0, resolved_fraction=0.5) == "compact"
    assert size_class(6.5, 12.0, resolved_fraction=0.5) == "extended"
    assert size_class(float("nan"), 12.0, resolved_fraction=0.5) == "compact"
