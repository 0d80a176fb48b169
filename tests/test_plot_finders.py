"""plot-finders: one map, finders side by side; panels read on the map grid, bad input one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from PIL import Image

from skysift import cli
from skysift.predict.config import PredictConfig
from skysift.predict.pipeline import predict_map
from skysift.predict.toy import Component, ThresholdPredictor, write_toy_map
from skysift.report.finder_panels import read_panel

SHAPE = (120, 150)


@pytest.fixture(scope="module")
def predicted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("finders")
    sources = [Component(30, 40, 0.02), Component(100, 80, 0.02, 8.0, 4.0)]
    map_path = write_toy_map(folder / "map.fits", SHAPE, sources)
    out = folder / "pred"
    predict_map(
        map_path,
        out,
        predictor=ThresholdPredictor(size_pix=64, threshold=1e-3),
        config=PredictConfig(overlap_pix=24, write_png=False),
        progress=False,
    )
    return map_path, out


def test_panel_is_the_segmentation_subsampled_with_the_catalogue_classes(
    predicted: tuple[Path, Path],
) -> None:
    _, out = predicted
    seg = fits.getdata(out / "segmentation.fits")
    table = Table.read(out / "catalogue.fits")
    panel = read_panel("skysift", out / "catalogue.fits", out / "segmentation.fits", shape=SHAPE,
                       step=3)  # fmt: skip
    assert np.array_equal(panel.segmentation, seg[::3, ::3])
    assert panel.classes_by_id == {int(r["id"]): str(r["class"]) for r in table}
    assert sorted(panel.classes_by_id.values()) == ["compact", "extended"]


def test_stage_writes_one_png_with_a_panel_per_finder(
    predicted: tuple[Path, Path], tmp_path: Path
) -> None:
    map_path, out = predicted
    png = tmp_path / "finders.png"
    panel = [str(out / "catalogue.fits"), str(out / "segmentation.fits")]
    code = cli.main(["plot-finders", str(map_path), "--panel", "one", *panel, "--out", str(png)])
    assert code == 0
    width_one = Image.open(png).size[0]
    code = cli.main(
        ["plot-finders", str(map_path), "--panel", "a", *panel, "--panel", "b", *panel,
         "--out", str(png)]
    )  # fmt: skip
    assert code == 0
    assert Image.open(png).size[0] > 1.8 * width_one  # two panels side by side


def test_segmentation_off_the_map_grid_is_one_line(
    predicted: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    map_path, out = predicted
    bad = tmp_path / "seg.fits"
    fits.PrimaryHDU(np.zeros((10, 10), np.int32)).writeto(bad)
    png = tmp_path / "x.png"
    code = cli.main(
        ["plot-finders", str(map_path), "--panel", "a", str(out / "catalogue.fits"), str(bad),
         "--out", str(png)]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "seg.fits" in err[0] and "not the map's (120, 150)" in err[0]
    assert not png.exists()
