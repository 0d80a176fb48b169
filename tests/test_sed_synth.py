"""Synthetic SED tables: parameters kept, reproducibility, missing rates, the sed-synth stage,
and the comparison with real stars."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

import skysift.cli
from skysift.errors import ConfigError
from skysift.sed.compare import (
    comparison_table,
    load_green2020,
    real_vega_mags,
    synthetic_photospheres,
)
from skysift.sed.config import BandConfig, SedConfig
from skysift.sed.grid import ModelGrid, load_grid
from skysift.sed.synth import prepare, synthesize
from skysift.settings import load_section


@pytest.fixture(scope="module")
def grid(shared_data: Path) -> ModelGrid:
    if not (shared_data / "ck04" / "ck04_subset.npz").is_file():
        pytest.skip("ck04 grid absent")
    return load_grid(shared_data / "ck04")


@pytest.fixture()
def cli_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    stages = dict(skysift.cli.STAGES)
    stages.setdefault("sed-synth", ("skysift.sed_synth", "synthetic stellar SEDs"))
    monkeypatch.setattr(skysift.cli, "STAGES", stages)


def test_parameters_are_kept_and_consistent(grid: ModelGrid) -> None:
    cfg = SedConfig(n_seds=600, dust_fraction=0.4)
    table = synthesize(grid, cfg, seed=5).table
    for col in (
        "teff",
        "logg",
        "feh",
        "radius",
        "distance",
        "av",
        "dust_tau",
        "dust_temp",
        "has_dust",
        "model_source",
        "logg_clamped",
    ):
        assert col in table.colnames
    teff = np.asarray(table["teff"])
    assert teff.min() >= 2500 and teff.max() <= 40000
    cool = np.asarray(table["model_source"]) == "cool_extension"
    assert np.array_equal(cool, teff < 3500) and cool.any()
    dusty = np.asarray(table["has_dust"])
    assert abs(dusty.mean() - 0.4) < 0.08
    assert np.all(table["dust_tau"][~dusty] == 0) and np.all(table["dust_tau"][dusty] >= 0.05)
    temp = np.asarray(table["dust_temp"])[dusty]
    assert temp.min() >= 300 and temp.max() <= 1500
    # clamped rows sit at high Teff with log g raised to a present model
    clamped = np.asarray(table["logg_clamped"])
    assert np.all(teff[clamped] > 7000)
    # radius from gravity: g = G M / R^2
    g = 6.6743e-8 * table["mass"] * 1.98841e33 / (np.asarray(table["radius"]) * 6.957e10) ** 2
    np.testing.assert_allclose(np.log10(g), table["logg"], atol=1e-6)
    # dusty stars stand out in W1-W4; the mask matches the NaNs
    both = ~table["mask_W1"] & ~table["mask_W4"]
    w14 = np.asarray(table["mag_W1"] - table["mag_W4"])
    assert np.median(w14[both & dusty]) > np.median(w14[both & ~dusty]) + 1.0
    for band in ("G", "W4"):
        assert np.array_equal(
            np.isnan(np.asarray(table[f"mag_{band}"])), np.asarray(table[f"mask_{band}"])
        )


def test_reproducible_and_chunk_independent(grid: ModelGrid) -> None:
    a = synthesize(grid, SedConfig(n_seds=300, chunk_size=300), seed=11).table
    b = synthesize(grid, SedConfig(n_seds=300, chunk_size=37), seed=11).table
    c = synthesize(grid, SedConfig(n_seds=300), seed=12).table
    np.testing.assert_array_equal(a["teff"], b["teff"])
    np.testing.assert_array_equal(a["mask_J"], b["mask_J"])
    np.testing.assert_allclose(a["mag_J"], b["mag_J"], rtol=1e-6, equal_nan=True)
    assert not np.array_equal(a["teff"], c["teff"])


def test_missing_rates_honoured(grid: ModelGrid) -> None:
    bands = {
        "J": BandConfig(pyphot_name="2MASS_J", mag_limit=40 - 1e-9, missing_rate=0.2),
        "W1": BandConfig(pyphot_name="WISE_RSR_W1", mag_limit=40 - 1e-9, missing_rate=0.6),
    }
    cfg = SedConfig(n_seds=4000, bands=bands, drop_below_limit=False)
    table = synthesize(grid, cfg, seed=3).table
    for band, rate in (("J", 0.2), ("W1", 0.6)):
        frac = np.mean(table[f"mask_{band}"])
        assert abs(frac - rate) < 4 * np.sqrt(rate * (1 - rate) / 4000), band


def test_settings_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"sed\.teff_mn"):
        load_section(SedConfig, "sed", '{"teff_mn": 3000}')
    with pytest.raises(ConfigError, match="dust_temp"):
        load_section(SedConfig, "sed", '{"dust_temp_min": 1800, "dust_temp_max": 400}')


def test_stage_writes_outputs(grid: ModelGrid, tmp_path: Path, cli_stage: None) -> None:
    out, again = tmp_path / "seds", tmp_path / "again"
    argv = ["sed-synth", "--n", "150", "--seed", "4", "--grid", str(grid.path), "-q"]
    assert skysift.cli.main([*argv, "--out", str(out)]) == 0
    for name in ("seds.fits", "seds.csv", "bands.json", "seds_overview.png"):
        assert (out / name).is_file(), name
    table = Table.read(out / "seds.fits")
    assert len(table) == 150 and table["teff"].unit == "K" and table["flux_G"].unit == "Jy"
    bands = json.loads((out / "bands.json").read_text())["bands"]
    assert [b["name"] for b in bands][:3] == ["G", "BP", "RP"]
    w1 = next(b for b in bands if b["name"] == "W1")
    assert w1["vega_zero_jy"] == pytest.approx(309.5, rel=0.03)  # Jarrett et al. 2011
    assert 3.3 < w1["pivot_wavelength_um"] < 3.4
    assert skysift.cli.main([*argv, "--out", str(again)]) == 0
    assert (out / "seds.csv").read_bytes() == (again / "seds.csv").read_bytes()


def test_stage_errors_are_one_line(
    tmp_path: Path, cli_stage: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sed-synth", "--grid", str(tmp_path / "none"), "--out", str(tmp_path / "o"), "-q"]
    assert skysift.cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "skysift fetch-data ck04" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()
    bad = ["sed-synth", "--settings", '{"n_sed": 5}', "--out", str(tmp_path / "o"), "-q"]
    assert skysift.cli.main(bad) == 1
    assert "sed.n_sed" in capsys.readouterr().err


def test_photospheres_match_real_stars(grid: ModelGrid, shared_data: Path) -> None:
    path = shared_data / "stars" / "green2020"
    if not path.is_dir():
        pytest.skip("green2020 sample absent")
    real = load_green2020(path)[:3000]
    cfg = SedConfig()
    passbands, _ = prepare(grid, cfg)
    real_mags = real_vega_mags(real, passbands)
    # W2 is AB in the catalogue: converted, Ks-W2 of FGK stars is near 0 (Vega)
    ks_w2 = real_mags["Ks"] - real_mags["W2"]
    assert abs(np.nanmedian(ks_w2)) < 0.1
    syn_teff, syn_mags = synthetic_photospheres(grid, real, config=cfg, seed=0)
    table = comparison_table(np.asarray(real["teff"], float), real_mags, syn_teff, syn_mags)
    solar = (table["teff_lo"] >= 5000) & (table["teff_hi"] <= 6500)
    assert solar.sum() == 3
    for colour in ("BP-RP", "G-Ks", "J-Ks"):
        assert np.all(np.abs(table[f"{colour}_diff"][solar]) < 0.12), colour
    # and colours track Teff in both
    assert np.all(np.diff(table["G-Ks_syn"][1:]) < 0) and np.all(
        np.diff(table["G-Ks_real"][1:]) < 0
    )


def test_missing_real_sample(tmp_path: Path) -> None:
    from skysift.errors import InputFileError

    with pytest.raises(InputFileError, match="not found"):
        load_green2020(tmp_path)
