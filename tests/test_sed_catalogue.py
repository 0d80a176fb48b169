"""User catalogues for sed-classify: column mapping, AB/Vega, missing values, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from skysift.errors import ConfigError, InputFileError
from skysift.sed.analysis_config import CatalogueConfig, EmbedConfig
from skysift.sed.catalogue import catalogue_mags, read_catalogue
from skysift.sed.features import make_spec

BANDS = {
    name: {"name": name, "pivot_wavelength_um": pivot, "ab_minus_vega_mag": offset}
    for name, pivot, offset in (("G", 0.62, 0.12), ("Ks", 2.16, 1.85), ("W1", 3.35, 2.70))
}
SPEC = make_spec(BANDS, EmbedConfig())


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_mapping_systems_sentinels_and_absent_bands(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "cat.csv",
        "name,gmag,w1_ab,teff\na,12.5,13.7,5000\nb,-99,15.0,6000\nc,14.0,,4000\nd,99.99,nan,3000\n",
    )
    config = CatalogueConfig(
        bands={"G": {"column": "gmag"}, "W1": {"column": "w1_ab", "system": "ab"}},
        id_column="name",
        missing_values=[-99.0],
        keep_columns=["teff"],
    )
    cat = catalogue_mags(read_catalogue(path), SPEC, config, path)
    g, ks, w1 = (SPEC.bands.index(b) for b in ("G", "Ks", "W1"))
    assert cat.ids.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_allclose(cat.mags[0, [g, w1]], [12.5, 13.7 - 2.70])  # AB -> Vega
    assert np.isnan(cat.mags[1, g])  # sentinel
    assert np.isnan(cat.mags[2, w1])  # empty cell
    assert np.isnan(cat.mags[3, g])  # 99.99 is beyond any real magnitude
    assert np.isnan(cat.mags[:, ks]).all()  # no Ks column: masked for everyone


def test_default_mapping_reads_mag_columns_from_fits(tmp_path: Path) -> None:
    table = Table({"mag_G": [12.0, 13.0], "mag_Ks": np.ma.masked_array([10.0, 0], [False, True])})
    table.write(tmp_path / "cat.fits")
    cat = catalogue_mags(read_catalogue(tmp_path / "cat.fits"), SPEC, CatalogueConfig(), "x")
    assert set(cat.mapping) == {"G", "Ks"}
    assert np.isnan(cat.mags[1, SPEC.bands.index("Ks")])
    assert cat.ids.tolist() == [0, 1]


def test_errors_from_configured_and_default_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "cat.csv",
        "mag_G,err_G,mag_Ks,eks\n12.0,0.01,10.0,0.03\n13.0,-99,,0.05\n14.0,0,11.0,\n",
    )
    config = CatalogueConfig(
        bands={"G": {"column": "mag_G"}, "Ks": {"column": "mag_Ks", "error_column": "eks"}},
        missing_values=[-99.0],
    )
    cat = catalogue_mags(read_catalogue(path), SPEC, config, path)
    g, ks = SPEC.bands.index("G"), SPEC.bands.index("Ks")
    assert cat.error_columns == {"G": "err_G", "Ks": "eks"}
    np.testing.assert_allclose(cat.errors[0, [g, ks]], [0.01, 0.03])
    assert np.isnan(cat.errors[1, g])  # sentinel error
    assert np.isnan(cat.errors[1, ks])  # no magnitude, so no error either
    assert np.isnan(cat.errors[2, g])  # a zero error is no error
    assert np.isnan(cat.errors[:, SPEC.bands.index("W1")]).all()


@pytest.mark.parametrize(
    ("text", "config", "match"),
    [
        (
            "gmag\n12\n",
            {"bands": {"G": {"column": "g_mag"}}},
            r"column 'g_mag' \(band G\) not found",
        ),
        ("ra,dec\n1,2\n", {}, "no photometry columns"),
        ("mag_G,mag_Ks\n-99,\nnan,-99\n", {"missing_values": [-99.0]}, "all photometry is missing"),
        ("mag_G\nbright\n", {}, "column 'mag_G' is not numeric"),
        ("mag_G\n12\n", {"keep_columns": ["teff"]}, "column 'teff'"),
        (
            "gmag\n12\n",
            {"bands": {"G": {"column": "gmag", "error_column": "e_gmag"}}},
            r"error column 'e_gmag' \(band G\) not found",
        ),
    ],
)
def test_bad_catalogues_name_the_file_and_the_problem(
    tmp_path: Path, text: str, config: dict, match: str
) -> None:
    path = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(InputFileError, match=match) as exc:
        catalogue_mags(read_catalogue(path), SPEC, CatalogueConfig(**config), path)
    assert str(path) in str(exc.value)


def test_unknown_band_and_unreadable_files(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cat.csv", "x\n1\n")
    with pytest.raises(ConfigError, match=r"sed\.catalogue\.bands\.W9"):
        catalogue_mags(
            read_catalogue(path), SPEC, CatalogueConfig(bands={"W9": {"column": "x"}}), path
        )
    with pytest.raises(InputFileError, match="not found"):
        read_catalogue(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("mag_G\n")
    with pytest.raises(InputFileError, match="no rows"):
        read_catalogue(tmp_path / "empty.csv")
    (tmp_path / "junk.fits").write_bytes(b"not a fits file")
    with pytest.raises(InputFileError, match="cannot be read as FITS"):
        read_catalogue(tmp_path / "junk.fits")
