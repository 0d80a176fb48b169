"""Whole-map prediction end to end with an exact fake detector; outputs; bad input via the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from astropy.io import fits
from astropy.table import Table

from skysift import cli
from skysift.data.config import ChannelSpec, NormalisationSpec
from skysift.detect.checkpoint import model_metadata
from skysift.detect.config import DetectorConfig
from skysift.detect.toy import make_toy_dataset
from skysift.errors import InputFileError, OutputExistsError
from skysift.io.catalogue import read_truth
from skysift.io.header import pixel_to_icrs
from skysift.predict.config import PredictConfig
from skysift.predict.lazymap import open_map
from skysift.predict.pipeline import predict_map
from skysift.predict.toy import Component, ThresholdPredictor, toy_header, write_toy_map

SHAPE = (200, 230)  # not square, not a multiple of any tile stride used here
RMS = 1e-4
CORNER = Component(64, 64, 0.05, 2.5, 2.5)  # on the corner of tile (0, 0) at size 64
LARGE = Component(150, 60, 0.02, 10.0, 6.0)  # ~50 px long: larger than the overlap
MULTI = (Component(60, 100, 0.01), Component(80, 100, 0.01))  # two islands 20 px apart
EDGE = Component(180, 125, 0.02, 2.0, 2.0)  # touches the blanked region (rows >= 130)
BLANK = (130, 200, 0, 110)  # whole tiles blank at 64 px


def fake(size: int) -> ThresholdPredictor:
    return ThresholdPredictor(size_pix=size, threshold=10 * RMS, group_pix=6)


@pytest.fixture(scope="module")
def toy_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("map")
    return write_toy_map(
        folder / "map.fits", SHAPE, [CORNER, LARGE, *MULTI, EDGE], rms=RMS, blank=[BLANK]
    )


@pytest.fixture(scope="module")
def runs(toy_map: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Reference (the whole map in one padded tile) and two tilings."""
    out = tmp_path_factory.mktemp("runs")
    settings = {"ref": (256, 0), "t64": (64, 24), "t96": (96, 32)}
    for name, (size, overlap) in settings.items():
        predict_map(
            toy_map,
            out / name,
            predictor=fake(size),
            config=PredictConfig(overlap_pix=overlap, batch_size=3),
            progress=False,
        )
    return {name: out / name for name in settings}


def _catalogue(folder: Path) -> Table:
    return Table.read(folder / "catalogue.fits")


def _nearest(table: Table, x: float, y: float) -> Any:
    d = np.hypot(np.asarray(table["x"]) - x, np.asarray(table["y"]) - y)
    return table[int(np.argmin(d))], float(d.min())


def test_tile_size_invariance(runs: dict[str, Path]) -> None:
    ref = _catalogue(runs["ref"])
    assert len(ref) == 4  # corner, large, multi (one object), edge
    assert sorted(ref["class"]) == ["compact", "compact", "extended", "extended-multi"]
    for name in ("t64", "t96"):
        tiled = _catalogue(runs[name])
        assert len(tiled) == len(ref), name
        for column in ("class", "bbox_xmin", "bbox_ymin", "bbox_xmax", "mask_area", "n_islands"):
            assert list(tiled[column]) == list(ref[column]), (name, column)
        for column in ("x", "y", "ra", "dec", "peak_flux", "int_flux", "las_arcsec"):
            np.testing.assert_allclose(tiled[column], ref[column], rtol=1e-12, err_msg=column)
        seg_ref = fits.getdata(runs["ref"] / "segmentation.fits")
        assert np.array_equal(fits.getdata(runs[name] / "segmentation.fits"), seg_ref)
    assert max(_catalogue(runs["t64"])["n_tiles"]) >= 4  # really cut by borders


def test_source_on_a_tile_corner_is_reported_once_with_its_flux(
    runs: dict[str, Path], toy_map: Path
) -> None:
    beam_area = open_map(toy_map).beam_area_pixels
    table = _catalogue(runs["t64"])
    row, distance = _nearest(table, CORNER.x, CORNER.y)
    assert distance < 0.2  # flux-weighted centroid on the true centre
    assert row["class"] == "compact" and row["n_tiles"] == 4
    near = np.hypot(table["x"] - CORNER.x, table["y"] - CORNER.y) < 15
    assert int(near.sum()) == 1
    assert row["int_flux"] == pytest.approx(CORNER.flux_jy(beam_area), rel=0.05)
    assert row["peak_flux"] == pytest.approx(CORNER.peak, rel=0.02)


def test_objects_larger_than_the_overlap_and_islands_in_different_tiles_stay_one(
    runs: dict[str, Path], toy_map: Path
) -> None:
    beam_area = open_map(toy_map).beam_area_pixels
    table = _catalogue(runs["t64"])
    large, _ = _nearest(table, LARGE.x, LARGE.y)
    assert large["class"] == "extended" and large["n_tiles"] >= 2
    assert large["int_flux"] == pytest.approx(LARGE.flux_jy(beam_area), rel=0.1)
    assert large["las_arcsec"] > 2 * 24 * 2.0  # longer than the 24-px overlap (2"/px)
    multi, distance = _nearest(table, 70, 100)
    assert distance < 1.0
    assert (multi["class"], multi["n_islands"]) == ("extended-multi", 2)
    assert multi["n_tiles"] >= 2
    total = sum(c.flux_jy(beam_area) for c in MULTI)
    assert multi["int_flux"] == pytest.approx(total, rel=0.1)


def test_blanked_regions_are_skipped_and_never_part_of_a_mask(
    runs: dict[str, Path], toy_map: Path
) -> None:
    import json

    summary = json.loads((runs["t64"] / "summary.json").read_text())
    assert summary["tiles_blank"] >= 2
    assert summary["tiles_blank"] + summary["tiles_predicted"] == summary["tiles"]
    data = fits.getdata(toy_map)
    seg = fits.getdata(runs["t64"] / "segmentation.fits")
    assert not (np.isnan(data) & (seg > 0)).any()
    table = _catalogue(runs["t64"])
    edge, distance = _nearest(table, EDGE.x, EDGE.y)
    assert distance < 1.0 and edge["bbox_ymax"] <= BLANK[0]
    for column in ("x", "y", "ra", "dec", "peak_flux", "int_flux"):
        assert np.isfinite(table[column]).all()


def test_outputs_follow_the_catalogue_contract(runs: dict[str, Path], toy_map: Path) -> None:
    folder = runs["t64"]
    table = read_truth(folder / "catalogue.fits")  # the truth contract columns are all there
    header = fits.getheader(folder / "catalogue.fits", 1)
    units = {header[f"TTYPE{i}"]: header.get(f"TUNIT{i}") for i in range(1, header["TFIELDS"] + 1)}
    assert units["ra"] == "deg" and units["int_flux"] == "Jy" and units["peak_flux"] == "Jy beam-1"
    assert units["las_arcsec"] == "arcsec" and units["x"] == "pix"
    assert list(table["id"]) == list(range(1, len(table) + 1))
    assert set(table["map"]) == {"map"} and (table["score"] > 0.5).all()
    csv = Table.read(folder / "catalogue.csv", format="ascii.csv")
    assert list(csv["class"]) == list(table["class"])
    np.testing.assert_allclose(csv["int_flux"], table["int_flux"], rtol=1e-9)
    ra, dec = pixel_to_icrs(open_map(toy_map).wcs, table["x"], table["y"])
    np.testing.assert_allclose(table["ra"], ra, rtol=1e-12)
    np.testing.assert_allclose(table["dec"], dec, rtol=1e-12)
    seg = fits.getdata(folder / "segmentation.fits")
    assert seg.dtype.kind == "i" and seg.shape == SHAPE
    for row in table:
        ids = seg[row["bbox_ymin"] : row["bbox_ymax"], row["bbox_xmin"] : row["bbox_xmax"]]
        assert int((ids == row["id"]).sum()) == row["mask_area"]
    regions = (folder / "regions.reg").read_text()
    assert regions.count("text={") == len(table)
    assert (folder / "outlines.png").stat().st_size > 10_000


def test_background_and_rms_beside_the_map_are_used(toy_map: Path, tmp_path: Path) -> None:
    shutil.copy(toy_map, tmp_path / "map.fits")
    header = toy_header(SHAPE)
    fits.PrimaryHDU(np.full(SHAPE, 1e-3, np.float32), header).writeto(tmp_path / "background.fits")
    fits.PrimaryHDU(np.full(SHAPE, 2e-4, np.float32), header).writeto(tmp_path / "rms.fits")
    config = PredictConfig(overlap_pix=24, write_png=False)
    predict_map(tmp_path / "map.fits", tmp_path / "a", predictor=fake(64), config=config)
    predict_map(toy_map, tmp_path / "b", predictor=fake(64), config=config)
    a, b = _catalogue(tmp_path / "a"), _catalogue(tmp_path / "b")
    beam_area = open_map(toy_map).beam_area_pixels
    np.testing.assert_allclose(a["peak_flux"], b["peak_flux"] - 1e-3, rtol=1e-6)
    np.testing.assert_allclose(
        a["int_flux"], b["int_flux"] - 1e-3 * b["mask_area"] / beam_area, rtol=1e-6
    )
    np.testing.assert_allclose(a["local_rms"], 2e-4, rtol=1e-6)
    np.testing.assert_allclose(a["snr"], a["peak_flux"] / 2e-4, rtol=1e-6)
    assert np.isnan(np.ma.filled(b["local_rms"], np.nan)).all()  # no rms.fits: NaN


def test_all_blank_map_and_existing_output_are_errors(tmp_path: Path) -> None:
    blank = write_toy_map(tmp_path / "blank.fits", (100, 90), [], blank=[(0, 100, 0, 90)])
    with pytest.raises(InputFileError, match="all pixels are NaN"):
        predict_map(blank, tmp_path / "out", predictor=fake(64))
    assert not (tmp_path / "out").exists()
    (tmp_path / "exists").mkdir()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        predict_map(blank, tmp_path / "exists", predictor=fake(64))


# --- the command line -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Metadata-only checkpoint (zscale, 1 channel, 48 px): enough for the refusal paths."""
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    meta = model_metadata(
        DetectorConfig(), classes=["compact", "extended"], normalisation=NormalisationSpec(),
        size_pix=48,
    )  # fmt: skip
    torch.save({"model": {}, "skysift": meta}, path)
    return path


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["predict-map", *args, "-q", "--no-progress"])
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize(
    ("drop", "message"),
    [(("CTYPE1", "CTYPE2"), "no celestial WCS"), (("BMAJ", "BMIN"), "no beam keywords")],
)
def test_cli_refuses_a_map_without_wcs_or_beam(
    drop: tuple[str, ...],
    message: str,
    fake_checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    header = toy_header((80, 80))
    for key in drop:
        del header[key]
    bad = write_toy_map(tmp_path / "bad.fits", (80, 80), [], header=header)
    code, err = _run_cli(
        [str(bad), "--model", str(fake_checkpoint), "--out", str(tmp_path / "o")], capsys
    )
    assert code == 1 and len(err.splitlines()) == 1
    assert message in err and "bad.fits" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fits"]


def test_cli_refuses_a_model_of_another_preprocessing(
    toy_map: Path, fake_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asinh = NormalisationSpec(channels=[ChannelSpec(method="asinh")])
    dataset = make_toy_dataset(
        tmp_path / "ds", size=48, images_per_split=(1, 0, 0), normalisation=asinh
    )
    out = tmp_path / "o"
    args = [
        str(toy_map),
        "--model",
        str(fake_checkpoint),
        "--out",
        str(out),
        "--dataset",
        str(dataset),
    ]
    code, err = _run_cli(args, capsys)
    assert code == 1 and len(err.splitlines()) == 1
    assert "'normalisation'" in err and "retrain the model" in err
    assert not out.exists()


def test_cli_refuses_an_existing_output_folder(
    toy_map: Path, fake_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, err = _run_cli([str(toy_map), "--model", str(fake_checkpoint), "--out", str(out)], capsys)
    assert code == 1 and "already exists" in err and "--overwrite" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_object_masks_lie_on_the_sky_like_the_segmentation(toy_map: Path, tmp_path: Path) -> None:
    from astropy.wcs import WCS

    out = tmp_path / "o"
    config = PredictConfig(overlap_pix=24, write_png=False, write_object_masks=True)
    predict_map(toy_map, out, predictor=fake(64), config=config, progress=False)
    table = _catalogue(out)
    seg = fits.getdata(out / "segmentation.fits")
    map_wcs = open_map(toy_map).wcs
    with fits.open(out / "object_masks.fits") as hdul:
        assert hdul[0].header["NOBJECTS"] == len(table) == len(hdul) - 1
        for row in table:
            hdu = hdul[f"OBJ{row['id']}"]
            x0, y0 = hdu.header["BBOX_X0"], hdu.header["BBOX_Y0"]
            assert (x0, y0) == (row["bbox_xmin"], row["bbox_ymin"])
            assert hdu.header["CLASS"] == row["class"]
            h, w = hdu.data.shape
            assert np.array_equal(hdu.data == 1, seg[y0 : y0 + h, x0 : x0 + w] == row["id"])
            sky = WCS(hdu.header).pixel_to_world_values(0.0, 0.0)
            np.testing.assert_allclose(sky, map_wcs.pixel_to_world_values(x0, y0), atol=1e-9)


@pytest.mark.parametrize("storage", ["float32", "float64 4-D mJy", "int16 BSCALE", "gzip"])
def test_map_windows_are_the_stored_pixels_however_the_file_stores_them(
    tmp_path: Path, storage: str
) -> None:
    rng = np.random.default_rng(5)
    jy = rng.normal(0.0, 1e-3, (40, 52)).astype(np.float32)
    jy[3, 4], jy[30, 7] = np.nan, np.inf
    header = toy_header(jy.shape)
    path = tmp_path / ("map.fits.gz" if storage == "gzip" else "map.fits")
    if storage == "int16 BSCALE":
        jy = np.nan_to_num(jy, nan=0.0, posinf=0.0)  # integers have no NaN
        hdu = fits.PrimaryHDU(jy, header=header)
        hdu.scale("int16", bscale=1e-6, bzero=0.0)
        expected = hdu.data * 1e-6  # the stored integers, scaled
        hdu.writeto(path)
    elif storage == "float64 4-D mJy":
        header["BUNIT"] = "mJy/beam"
        fits.PrimaryHDU((jy.astype(np.float64) * 1e3)[None, None], header=header).writeto(path)
        expected = jy
    else:
        fits.PrimaryHDU(jy, header=header).writeto(path)
        expected = jy
    expected = np.where(np.isinf(expected), np.nan, expected).astype(np.float32)
    lazy = open_map(path)
    try:
        # a memory-mapped view only where it reads no pixels up front: unscaled floats, not gzip
        assert (lazy.image.mapped is not None) == storage.startswith("float")
        for y0, y1, x0, x1 in [(0, 40, 0, 52), (2, 9, 3, 11), (25, 40, 0, 8)]:
            np.testing.assert_allclose(
                lazy.window(y0, y1, x0, x1), expected[y0:y1, x0:x1], rtol=1e-6, atol=1e-9
            )
    finally:
        lazy.close()
