"""ck04 grid: finding it, loading it, log-log resampling, interpolation on present models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skysift.errors import InputFileError
from skysift.sed.grid import ModelGrid, interpolate, load_grid, resample_loglog

SIGMA_SB = 5.670374419e-5


@pytest.fixture(scope="module")
def grid(shared_data: Path) -> ModelGrid:
    path = shared_data / "ck04"
    if not (path / "ck04_subset.npz").is_file():
        pytest.skip("ck04 grid absent")
    return load_grid(path)


@pytest.fixture(scope="module")
def raw(shared_data: Path) -> dict[str, np.ndarray]:
    with np.load(shared_data / "ck04" / "ck04_subset.npz") as data:
        return {k: data[k] for k in data.files}


def test_exact_at_grid_nodes(grid: ModelGrid, raw: dict[str, np.ndarray]) -> None:
    native = raw["wavelength_angstrom"].astype(np.float64)
    cols = np.searchsorted(grid.wavelength, native)
    assert np.array_equal(grid.wavelength[cols], native)
    nodes = [(0, 0, 0), (1, 9, 9), (2, 40, 6), (1, 75, 10), (0, 20, 3)]
    for iz, it, ig in nodes:
        assert raw["present"][iz, it, ig]
        out = interpolate(
            grid,
            np.array([raw["teff_k"][it]], float),
            np.array([raw["logg_cgs"][ig]], float),
            np.array([raw["metallicity_mh"][iz]], float),
        )
        assert not out.logg_clamped[0]
        np.testing.assert_array_equal(out.flux[0, cols], raw["flux_flam"][iz, it, ig])


def test_linear_between_nodes(grid: ModelGrid) -> None:
    # midway in Teff, log g and [M/H] at once: the mean of the eight corners
    out = interpolate(grid, np.array([5875.0]), np.array([4.25]), np.array([-0.5]))
    corners = grid.flux[0:2, 9:11, 8:10]  # [M/H] -1/0, Teff 5750/6000, log g 4.0/4.5
    assert grid.teff[9] == 5750 and grid.logg[8] == 4.0
    np.testing.assert_allclose(out.flux[0], corners.mean(axis=(0, 1, 2)), rtol=1e-12)
    # and it is a star of that temperature: int F dlambda = sigma T^4 within 1%
    total = np.trapezoid(out.flux[0], grid.wavelength)
    assert total / (SIGMA_SB * 5875.0**4) == pytest.approx(1.0, abs=0.01)


def test_missing_low_gravity_is_clamped_and_flagged(grid: ModelGrid) -> None:
    out = interpolate(
        grid,
        np.array([20000.0, 20500.0, 50000.0, 6000.0]),
        np.array([1.0, 1.0, 4.0, 0.0]),
        np.zeros(4),
    )
    # 20000 K has log g 3.0-5.0; 21000 K too; 50000 K only 5.0; 6000 K has 0.0
    np.testing.assert_allclose(out.logg, [3.0, 3.0, 5.0, 0.0])
    assert out.logg_clamped.tolist() == [True, True, True, False]
    assert np.all(out.flux.max(axis=1) > 0)


def test_loglog_resampling_follows_power_law() -> None:
    wave = np.array([1.0e5, 2.0e5, 4.0e5])
    flux = 3.0 * wave**-4.0
    fine = np.geomspace(1.0e5, 4.0e5, 9)
    np.testing.assert_allclose(resample_loglog(wave, flux, fine)[...], 3.0 * fine**-4.0, rtol=1e-10)
    # zeros (absent models) stay zero instead of becoming NaN
    assert np.all(resample_loglog(wave, np.zeros((2, 3)), fine) == 0.0)


def test_grid_ir_tail_is_resolved(grid: ModelGrid) -> None:
    wave_um = grid.wavelength / 1e4
    in_w4 = (wave_um > 19.0) & (wave_um < 28.0)
    assert in_w4.sum() >= 30  # native grid has one point (20 um) there


def test_missing_grid_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="skysift fetch-data ck04"):
        load_grid(tmp_path / "nowhere" / "ck04_subset.npz")
    with pytest.raises(InputFileError, match="skysift fetch-data ck04"):
        load_grid(tmp_path)  # a folder without the file


def test_grid_without_arrays_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "ck04_subset.npz"
    np.savez(bad, wavelength_angstrom=np.arange(3.0))
    with pytest.raises(InputFileError, match="missing arrays"):
        load_grid(bad)


def test_grid_search_order(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skysift.sed.grid import find_grid

    source = shared_data / "ck04" / "ck04_subset.npz"
    if not source.is_file():
        pytest.skip("ck04 grid absent")
    monkeypatch.setenv("SKYSIFT_SHARED_DATA", str(tmp_path / "shared"))
    monkeypatch.setenv("SKYSIFT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputFileError, match=r"also looked in .*shared.*cache"):
        find_grid()
    cached = tmp_path / "cache" / "ck04" / "ck04_subset.npz"
    cached.parent.mkdir(parents=True)
    cached.symlink_to(source)
    assert find_grid() == cached  # the fetch cache
    shared = tmp_path / "shared" / "ck04" / "ck04_subset.npz"
    shared.parent.mkdir(parents=True)
    shared.symlink_to(source)
    assert find_grid() == shared  # shared data before the cache
    assert find_grid(source.parent) == source  # an explicit folder first of all
