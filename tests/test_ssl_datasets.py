"""SSL cutout sets: files, random/curated cutouts, MiraBest, a user's folder, bad input."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from PIL import Image

from skysift.cli import main as cli_main
from skysift.errors import InputFileError
from skysift.io.beam import Beam
from skysift.io.fits_map import RadioMap
from skysift.ssl.datasets import (
    UNLABELLED,
    CutoutSet,
    load_cutout_set,
    save_cutout_set,
    stratified_fraction,
)
from skysift.ssl.external import (
    MIRABEST_CLASSES,
    load_folder,
    load_mirabest,
    mirabest_test_ids,
    model_inputs,
    read_image,
)
from skysift.ssl.survey import curated_cutouts, random_cutouts


def radio_map(shape: tuple[int, int] = (200, 240), seed: int = 0) -> RadioMap:
    """Noise map (1e-4 Jy/beam) with NaN-blanked left columns and a bright source at (100, 150)."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1e-4, shape).astype(np.float32)
    data[:, :30] = np.nan
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    data += (0.05 * np.exp(-((yy - 100) ** 2 + (xx - 150) ** 2) / 8.0)).astype(np.float32)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [shape[1] / 2, shape[0] / 2]
    wcs.wcs.cdelt = [-2 / 3600, 2 / 3600]
    return RadioMap(data=data, wcs=wcs, beam=Beam(10.0, 8.0, 0.0), name="m")


def test_save_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    original = CutoutSet(
        rng.normal(size=(5, 8, 8)), [0, 1, 1, 0, 1], [0, 0, 2, 2, 0], list("abcde"),
        ["x", "y"], "folder", {"seed": 3}, rng.random((5, 8, 8)) > 0.5,
    )  # fmt: skip
    save_cutout_set(original, tmp_path / "set")
    loaded = load_cutout_set(tmp_path / "set")
    np.testing.assert_array_equal(loaded.images, original.images)
    np.testing.assert_array_equal(loaded.labels, original.labels)
    assert loaded.masks is not None and original.masks is not None
    np.testing.assert_array_equal(loaded.masks, original.masks)
    assert loaded.ids == original.ids and loaded.classes == ["x", "y"] and loaded.meta["seed"] == 3
    assert loaded.counts()["test"] == {"x": 1, "y": 1}
    assert "| x | 1 | 0 | 1 | 2 |" in (tmp_path / "set" / "class_balance.md").read_text()
    with pytest.raises(InputFileError, match="ssl-dataset"):
        load_cutout_set(tmp_path / "nothing")


def test_cutout_set_refuses_non_finite_pixels_and_bad_labels() -> None:
    with pytest.raises(ValueError, match="finite"):
        CutoutSet(np.full((1, 4, 4), np.nan), [0], [0], ["a"], ["x"], "folder")
    with pytest.raises(ValueError, match="outside classes"):
        CutoutSet(np.zeros((1, 4, 4)), [2], [0], ["a"], ["x"], "folder")


def test_stratified_fraction_keeps_one_per_class_and_is_seeded() -> None:
    labels = np.array([0] * 200 + [1] * 20 + [2] * 3)
    subset = stratified_fraction(labels, 0.1, seed=4)
    counts = np.bincount(labels[subset], minlength=3)
    assert counts.tolist() == [20, 2, 1]
    np.testing.assert_array_equal(subset, stratified_fraction(labels, 0.1, seed=4))
    assert not np.array_equal(subset, stratified_fraction(labels, 0.1, seed=5))
    assert stratified_fraction(labels, 1.0, seed=0).size == labels.size


def test_random_cutouts_avoid_blanked_pixels_and_are_seeded() -> None:
    maps = [radio_map(), radio_map((150, 150), seed=2)]
    cutouts = random_cutouts(maps, 40, cutout_pix=32, min_valid_fraction=1.0, seed=7)
    assert len(cutouts) == 40 and cutouts.images.shape == (40, 32, 32)
    assert np.all(cutouts.labels == UNLABELLED) and cutouts.kind == "random"
    assert len(set(cutouts.ids)) == 40
    again = random_cutouts(maps, 40, cutout_pix=32, min_valid_fraction=1.0, seed=7)
    np.testing.assert_array_equal(cutouts.images, again.images)
    for name in cutouts.ids:  # all columns of every cutout are unblanked
        assert int(name.split("_")[1]) >= 30


def test_curated_cutouts_are_centred_on_catalogue_sources() -> None:
    table = Table(
        {
            "id": [1, 2, 3],
            "x": [150.0, 5.0, 100.0],
            "y": [100.0, 5.0, 60.0],
            "snr": [500.0, 50.0, 1.0],
            "class": ["compact"] * 3,
        }
    )
    cutouts = curated_cutouts(
        [radio_map()], [table], 10, cutout_pix=33, min_snr=5.0, min_valid_fraction=0.9, seed=0
    )
    assert cutouts.ids == ["m_1"]  # 2 is off the map's unblanked part, 3 below the S/N cut
    image = cutouts.images[0]
    assert np.unravel_index(np.argmax(image), image.shape) == (16, 16)


@pytest.mark.shared_data
def test_mirabest_confident_standard_split(shared_data: Path) -> None:
    cutouts = load_mirabest(shared_data / "mirabest")
    counts = cutouts.counts()
    assert sum(counts["train"].values()) == 729 and sum(counts["test"].values()) == 104
    assert cutouts.classes == list(MIRABEST_CLASSES) and cutouts.images.shape[1:] == (150, 150)
    assert cutouts.images.min() >= 0 and cutouts.images.max() <= 255
    test_ids = mirabest_test_ids(shared_data / "mirabest")
    assert {i for i, s in zip(cutouts.ids, cutouts.splits, strict=True) if s == 2} <= test_ids


def test_mirabest_reader_refuses_code_in_pickles(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    for name in [f"data_batch_{i}" for i in range(1, 8)] + ["test_batch"]:
        (tmp_path / name).write_bytes(pickle.dumps({"data": Evil(), "labels": [0]}))
    with pytest.raises(InputFileError, match=r"refusing to load builtins\.print"):
        load_mirabest(tmp_path)


def _user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        fits.PrimaryHDU(rng.normal(size=(1, 1, 40, 40)).astype(np.float32)).writeto(
            folder / f"src{i}.fits"
        )
    Image.fromarray((rng.random((30, 30, 3)) * 255).astype(np.uint8)).save(folder / "img.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_user_folder_with_labels(tmp_path: Path) -> None:
    folder = _user_folder(tmp_path)
    csv = tmp_path / "labels.csv"
    csv.write_text("filename,label,split\nsrc0.fits,FRI,train\nsrc1,FRII,test\nimg.png,FRI,\n")
    cutouts = load_folder(folder, labels_csv=csv, classes=["FRI", "FRII"], size=32)
    assert cutouts.ids == ["img", "src0", "src1"] and cutouts.images.shape == (3, 32, 32)
    (folder / "img.png").unlink()  # now all images are 40 x 40: kept as they are
    assert load_folder(folder, size=16).images.shape == (3, 40, 40)
    assert cutouts.labels.tolist() == [0, 0, 1] and cutouts.splits.tolist() == [0, 0, 2]
    unlabelled = load_folder(_user_folder(tmp_path / "again"), size=16)
    assert np.all(unlabelled.labels == UNLABELLED) and unlabelled.images.shape == (4, 16, 16)
    with pytest.raises(InputFileError, match="several shapes"):
        load_folder(tmp_path / "again" / "images")


@pytest.mark.parametrize(
    ("csv_text", "match"),
    [
        ("filename,label\nsrc0.fits,FRIII\n", "line 2: unknown label 'FRIII'"),
        ("filename,label\nmissing.fits,FRI\n", "listed images not in"),
        ("name,what\nsrc0.fits,FRI\n", "no label column"),
        ("filename,label\nsrc0.fits,FRI\nsrc0,FRII\n", "listed twice"),
    ],
)
def test_user_labels_errors_name_the_file(tmp_path: Path, csv_text: str, match: str) -> None:
    folder = _user_folder(tmp_path)
    csv = tmp_path / "labels.csv"
    csv.write_text(csv_text)
    with pytest.raises(InputFileError, match=match) as info:
        load_folder(folder, labels_csv=csv, classes=["FRI", "FRII"], size=32)
    assert info.value.path == csv


def test_unreadable_and_empty_images_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputFileError, match="not a readable image"):
        read_image(tmp_path / "broken.png")
    fits.PrimaryHDU(np.full((8, 8), np.nan, dtype=np.float32)).writeto(tmp_path / "nan.fits")
    with pytest.raises(InputFileError, match="empty image: no finite pixel"):
        read_image(tmp_path / "nan.fits")
    fits.PrimaryHDU(np.zeros((8, 8), dtype=np.float32)).writeto(tmp_path / "zero.fits")
    with pytest.raises(InputFileError, match="same value"):
        read_image(tmp_path / "zero.fits")
    (tmp_path / "bad.fits").write_text("garbage")
    with pytest.raises(InputFileError, match=r"bad\.fits"):
        read_image(tmp_path / "bad.fits")


def test_ssl_dataset_stage_reports_bad_labels_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _user_folder(tmp_path)
    csv = tmp_path / "labels.csv"
    csv.write_text("file,class\nsrc0,spiral\n")
    argv = ["ssl-dataset", "folder", "--images", str(folder), "--labels", str(csv)]
    code = cli_main([*argv, "--classes", "FRI", "FRII", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "labels.csv: line 2: unknown label 'spiral'" in err[0]
    assert not (tmp_path / "out").exists()


def test_model_inputs_of_a_folder_use_the_preprocessing(tmp_path: Path) -> None:
    from skysift.data.config import NormalisationSpec
    from skysift.ssl.augment import Preprocess

    preprocess = Preprocess(NormalisationSpec(), image_pix=16, crop_fraction=0.68)
    ids, inputs = model_inputs(_user_folder(tmp_path), preprocess)
    assert ids == ["img", "src0", "src1", "src2"] and tuple(inputs.shape) == (4, 1, 16, 16)
    assert float(inputs.min()) >= 0 and float(inputs.max()) <= 1
