"""Training-set builder: cutouts, COCO annotations, splits without leakage, CLI errors."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from pycocotools.coco import COCO

from skysift.cli import main as cli_main
from skysift.data.coco import decode_mask, validate_coco
from skysift.data.config import CutoutConfig
from skysift.data.cutouts import MapInputs, build_dataset, load_cutout
from skysift.errors import InputFileError
from skysift.io.catalogue import truth_table_from_rows, write_table

PIXEL_ARCSEC = 2.0
SIZE = 64
BLOCK = 128


def make_wcs(shape: tuple[int, int]) -> WCS:
    """SIN projection, 2 arcsec pixels, centred on (150, 2) deg."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [shape[1] / 2 + 1, shape[0] / 2 + 1]
    wcs.wcs.cdelt = [-PIXEL_ARCSEC / 3600, PIXEL_ARCSEC / 3600]
    return wcs


def truth_rows(
    image: np.ndarray, seg: np.ndarray, classes: dict[int, str], wcs: WCS, name: str
) -> list[dict[str, Any]]:
    """Truth rows measured from a hand-made segmentation (centre = mask centroid)."""
    rows = []
    for object_id, cls in classes.items():
        ys, xs = np.nonzero(seg == object_id)
        x, y = float(xs.mean()), float(ys.mean())
        ra, dec = wcs.pixel_to_world_values(x, y)
        peak = float(np.nanmax(image[ys, xs]))
        rows.append(
            {
                "id": object_id,
                "class": cls,
                "ra": float(ra),
                "dec": float(dec),
                "x": x,
                "y": y,
                "peak_flux": peak,
                "int_flux": float(np.nansum(image[ys, xs])) / 20.0,
                "local_rms": 1e-4,
                "snr": peak / 1e-4,
                "n_islands": 2 if cls == "extended-multi" else 1,
                "n_components": 2 if cls == "extended-multi" else 1,
                "n_peaks": 1,
                "bbox_xmin": int(xs.min()),
                "bbox_ymin": int(ys.min()),
                "bbox_xmax": int(xs.max()) + 1,
                "bbox_ymax": int(ys.max()) + 1,
                "mask_area": int(xs.size),
                "las_arcsec": float(np.hypot(np.ptp(xs), np.ptp(ys)) * PIXEL_ARCSEC),
                "major_arcsec": np.nan,
                "minor_arcsec": np.nan,
                "pa_deg": np.nan,
                "parent_id": 0,
                "map": name,
            }
        )
    return rows


def write_inputs(
    folder: Path,
    name: str,
    image: np.ndarray,
    seg: np.ndarray,
    classes: dict[int, str],
) -> MapInputs:
    """Write map, segmentation and truth files the way the simulator does."""
    folder.mkdir(parents=True, exist_ok=True)
    wcs = make_wcs(image.shape)
    header = wcs.to_header()
    header["BUNIT"] = "JY/BEAM"
    header["BMAJ"] = 6.0 / 3600
    header["BMIN"] = 5.0 / 3600
    header["BPA"] = 30.0
    paths = MapInputs(folder / f"{name}.fits", folder / f"{name}_seg.fits", folder / f"{name}.csv")
    fits.PrimaryHDU(image.astype(np.float32), header).writeto(paths.map_path)
    fits.PrimaryHDU(seg.astype(np.int32), wcs.to_header()).writeto(paths.segmentation_path)
    table = truth_table_from_rows(truth_rows(image, seg, classes, wcs, name))
    write_table(table, folder / f"{name}_truth.fits", paths.truth_path)
    return paths


def handmade_map(folder: Path, truth_class: str = "diffuse") -> MapInputs:
    """512x512 map with five objects (see the test docstrings) and a NaN strip at y >= 470."""
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 1e-4, (512, 512))
    seg = np.zeros((512, 512), dtype=np.int32)
    yy, xx = np.mgrid[:512, :512]
    seg[(yy - 40) ** 2 + (xx - 40) ** 2 <= 9] = 1  # compact, 29 px, inside cutout (0, 0)
    seg[20:24, 60:68] = 2  # 4x8 px across the cutout edge x = 64 (same block)
    seg[100:104, 10:14] = 3  # extended-multi island 1
    seg[110:114, 20:24] = 3  # extended-multi island 2
    seg[330:370, 330:370] = 4  # 40x40 px inside cutout (x0, y0) = (320, 320)
    seg[200, 450:453] = 5  # 3 px: below min_mask_area_pix
    image[seg > 0] += 1e-2
    image[470:, :] = np.nan
    classes = {1: "compact", 2: "extended", 3: "extended-multi", 4: truth_class, 5: "spurious"}
    return write_inputs(folder, "field", image, seg, classes)


def random_map(folder: Path, name: str, seed: int, n: int = 150) -> MapInputs:
    """512x512 map with ``n`` random disks (radius 2-12 px) of random classes."""
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, 1e-4, (512, 512))
    seg = np.zeros((512, 512), dtype=np.int32)
    yy, xx = np.mgrid[:512, :512]
    names = ("compact", "extended", "extended-multi", "diffuse", "spurious")
    classes = {}
    for object_id in range(1, n + 1):
        cy, cx = rng.uniform(0, 512, 2)
        radius = rng.uniform(2, 12)
        disk = ((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2) & (seg == 0)
        if disk.sum() < 5:
            continue
        seg[disk] = object_id
        image[disk] += rng.uniform(1e-3, 1e-1)
        classes[object_id] = names[int(rng.integers(len(names)))]
    return write_inputs(folder, name, image, seg, classes)


def config(**overrides: Any) -> CutoutConfig:
    values: dict[str, Any] = {
        "size_pix": SIZE,
        "region_block_pix": BLOCK,
        "min_mask_area_pix": 4,
        "empty_fraction": 0.0,
    }
    values.update(overrides)
    return CutoutConfig.model_validate(values)


def all_annotations(out: Path) -> dict[str, dict[str, Any]]:
    return {s: json.loads((out / "annotations" / f"{s}.json").read_text()) for s in SPLITS}


SPLITS = ("train", "val", "test")
CLASSES = ("compact", "extended", "extended-multi", "diffuse", "spurious")


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> tuple[MapInputs, Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("handmade")
    inputs = handmade_map(folder / "in")
    out = folder / "dataset"
    summary = build_dataset([inputs], out, config=config(), classes=CLASSES, seed=3)
    return inputs, out, summary


def find(docs: dict[str, dict[str, Any]], object_id: int) -> list[tuple[dict, dict]]:
    """(image, annotation) pairs of one object over all splits."""
    found = []
    for doc in docs.values():
        images = {im["id"]: im for im in doc["images"]}
        found += [
            (images[a["image_id"]], a) for a in doc["annotations"] if a["object_id"] == object_id
        ]
    return found


def test_handmade_counts(handmade: tuple[MapInputs, Path, dict[str, Any]]) -> None:
    """64 cutouts: 8 blank (NaN strip), 4 with objects, 52 empty (dropped: fraction 0)."""
    _, out, summary = handmade
    docs = all_annotations(out)
    assert sum(len(d["images"]) for d in docs.values()) == 4
    assert sum(len(d["annotations"]) for d in docs.values()) == 5
    assert summary["dropped_cutouts"] == {"leakage": 0, "blank": 8, "empty": 52}
    assert sum(c["blocks"] for c in summary["counts"].values()) == 16
    files = sorted(p.relative_to(out).as_posix() for p in (out / "images").rglob("*.fits"))
    names = sorted(im["file_name"] for d in docs.values() for im in d["images"])
    assert files == names
    assert {Path(n).name for n in names} == {
        "field_0_0.fits",
        "field_64_0.fits",
        "field_0_64.fits",
        "field_320_320.fits",
    }
    assert not find(docs, 5)  # 3 px < min_mask_area_pix
    for split, doc in docs.items():
        validate_coco(doc, classes=CLASSES)
        assert all(im["split"] == split for im in doc["images"])


def test_edge_object_truncated(handmade: tuple[MapInputs, Path, dict[str, Any]]) -> None:
    """Object 2 (4x8 px over x = 60..67) is cut by the edge x = 64: two halves of 16 px."""
    _, out, _ = handmade
    parts = sorted(find(all_annotations(out), 2), key=lambda p: p[0]["x0"])
    assert [im["x0"] for im, _ in parts] == [0, 64]
    (_, left), (_, right) = parts
    assert left["truncated"] and right["truncated"]
    assert left["visible_fraction"] == pytest.approx(0.5)
    assert right["visible_fraction"] == pytest.approx(0.5)
    assert left["bbox"] == [60, 20, 4, 4] and left["area"] == 16
    assert right["bbox"] == [0, 20, 4, 4] and right["area"] == 16
    assert left["x"] == pytest.approx(63.5) and right["x"] == pytest.approx(-0.5)
    (_, compact) = find(all_annotations(out), 1)[0]
    assert not compact["truncated"] and compact["visible_fraction"] == 1.0
    assert compact["area"] == 29 and compact["bbox"] == [37, 37, 7, 7]
    assert compact["category_id"] == 1 and compact["class"] == "compact"


def test_multi_island_object_is_one_annotation(
    handmade: tuple[MapInputs, Path, dict[str, Any]],
) -> None:
    _, out, _ = handmade
    parts = find(all_annotations(out), 3)
    assert len(parts) == 1
    image, ann = parts[0]
    assert (image["x0"], image["y0"]) == (0, 64)
    assert ann["category_id"] == 3 and ann["n_islands"] == 2
    assert ann["bbox"] == [10, 36, 14, 14] and ann["area"] == 32
    mask = decode_mask(ann["segmentation"])
    expected = np.zeros((SIZE, SIZE), dtype=bool)
    expected[36:40, 10:14] = True
    expected[46:50, 20:24] = True
    np.testing.assert_array_equal(mask, expected)
    assert not ann["truncated"]


def test_cutout_fits_pixels_wcs_and_beam(handmade: tuple[MapInputs, Path, dict[str, Any]]) -> None:
    inputs, out, _ = handmade
    data = fits.getdata(inputs.map_path)
    map_wcs = WCS(fits.getheader(inputs.map_path))
    path = out / "images"
    (cutout_path,) = list(path.rglob("field_320_320.fits"))
    pixels = load_cutout(cutout_path)
    assert pixels.dtype == np.float32 and pixels.shape == (SIZE, SIZE)
    np.testing.assert_array_equal(pixels, data[320:384, 320:384])
    header = fits.getheader(cutout_path)
    assert header["BMAJ"] == pytest.approx(6.0 / 3600) and header["BPA"] == 30.0
    assert header["BUNIT"] == "JY/BEAM" and header["CUTX0"] == 320
    cut_wcs = WCS(header)
    for x, y in [(0, 0), (17, 40)]:
        np.testing.assert_allclose(
            cut_wcs.pixel_to_world_values(x, y),
            map_wcs.pixel_to_world_values(x + 320, y + 320),
            atol=1e-10,
        )


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_coco_loads_in_pycocotools(handmade: tuple[MapInputs, Path, dict[str, Any]]) -> None:
    _, out, _ = handmade
    n_annotations = 0
    for split in SPLITS:
        coco = COCO(str(out / "annotations" / f"{split}.json"))
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
        for ann in coco.loadAnns(coco.getAnnIds()):
            mask = coco.annToMask(ann)
            assert mask.shape == (SIZE, SIZE) and int(mask.sum()) == ann["area"]
            n_annotations += 1
    assert n_annotations == 5


def test_dataset_json_and_class_balance(handmade: tuple[MapInputs, Path, dict[str, Any]]) -> None:
    _, out, summary = handmade
    on_disk = json.loads((out / "dataset.json").read_text())
    assert on_disk == summary
    assert [c["name"] for c in on_disk["classes"]] == list(CLASSES)
    assert [c["id"] for c in on_disk["classes"]] == [1, 2, 3, 4, 5]
    assert on_disk["normalisation"] == {
        "channels": [config().normalisation.channels[0].model_dump()]
    }
    assert on_disk["seed"] == 3 and on_disk["size_pix"] == SIZE
    assert "git_revision" in on_disk and on_disk["skysift_version"]
    docs = all_annotations(out)
    with (out / "class_balance.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15
    for row in rows:
        anns = [a for a in docs[row["split"]]["annotations"] if a["class"] == row["class"]]
        assert int(row["n_objects"]) == len(anns)
        assert int(row["n_truncated"]) == sum(a["truncated"] for a in anns)
        assert on_disk["counts"][row["split"]]["objects_per_class"][row["class"]] == len(anns)
    assert sum(int(r["n_truncated"]) for r in rows) == 2
    assert "| extended |" in (out / "class_balance.md").read_text()
    assert (out / "class_balance.png").read_bytes()[:4] == b"\x89PNG"


def test_empty_fraction_one_keeps_all_valid_cutouts(tmp_path: Path) -> None:
    inputs = handmade_map(tmp_path / "in")
    summary = build_dataset(
        [inputs], tmp_path / "out", config=config(empty_fraction=1.0), classes=CLASSES, seed=3
    )
    assert sum(c["images"] for c in summary["counts"].values()) == 56
    assert summary["dropped_cutouts"] == {"leakage": 0, "blank": 8, "empty": 0}


def test_keep_truncated_false_and_class_map(tmp_path: Path) -> None:
    inputs = handmade_map(tmp_path / "in", truth_class="halo")
    cfg = config(keep_truncated=False, class_map={"halo": "diffuse"})
    build_dataset([inputs], tmp_path / "out", config=cfg, classes=CLASSES, seed=3)
    docs = all_annotations(tmp_path / "out")
    assert not find(docs, 2)
    assert sum(len(d["annotations"]) for d in docs.values()) == 3
    assert find(docs, 4)[0][1]["class"] == "diffuse"


def test_no_leakage_between_splits(tmp_path: Path) -> None:
    # same file name in two folders: map names become m0_field and m1_field
    maps = [random_map(tmp_path / f"m{i}", "field", seed=10 + i) for i in range(2)]
    out = tmp_path / "out"
    summary = build_dataset(maps, out, config=config(empty_fraction=0.3), classes=CLASSES, seed=7)
    docs = all_annotations(out)
    # 2 maps x 16 blocks: 0.7/0.15/0.15 of 32 -> 22.4/4.8/4.8 -> 22/5/5
    assert [summary["counts"][s]["blocks"] for s in SPLITS] == [22, 5, 5]
    assert all(summary["counts"][s]["annotations"] > 0 for s in SPLITS)
    assert summary["dropped_cutouts"]["leakage"] > 0
    objects = {s: {(a["map"], a["object_id"]) for a in d["annotations"]} for s, d in docs.items()}
    assert not objects["train"] & objects["val"]
    assert not objects["train"] & objects["test"]
    assert not objects["val"] & objects["test"]
    assert [m["name"] for m in summary["maps"]] == ["m0_field", "m1_field"]
    for name in ("m0_field", "m1_field"):
        owner = np.full((512, 512), -1)
        for index, split in enumerate(SPLITS):
            for image in docs[split]["images"]:
                if image["map"] != name:
                    continue
                window = owner[image["y0"] : image["y0"] + SIZE, image["x0"] : image["x0"] + SIZE]
                assert np.all((window == -1) | (window == index)), "pixel in two splits"
                window[...] = index
    # the segmentation pixels under each cutout belong only to that split's objects
    seg = fits.getdata(maps[0].segmentation_path)
    for split, doc in docs.items():
        for image in doc["images"]:
            if image["map"] == "m0_field":
                ids = np.unique(
                    seg[image["y0"] : image["y0"] + SIZE, image["x0"] : image["x0"] + SIZE]
                )
                others = set().union(*(objects[s] for s in SPLITS if s != split))
                assert not {("m0_field", int(i)) for i in ids if i} & others


def test_same_seed_same_dataset(tmp_path: Path) -> None:
    inputs = random_map(tmp_path / "in", "m", seed=5, n=60)
    cfg = config(empty_fraction=0.5)
    build_dataset([inputs], tmp_path / "a", config=cfg, classes=CLASSES, seed=1)
    build_dataset([inputs], tmp_path / "b", config=cfg, classes=CLASSES, seed=1)
    for split in SPLITS:
        a = (tmp_path / "a" / "annotations" / f"{split}.json").read_bytes()
        assert a == (tmp_path / "b" / "annotations" / f"{split}.json").read_bytes()


def test_min_snr(tmp_path: Path) -> None:
    """Truth snr is about 100 for every object: min_snr 50 keeps all 5, 500 keeps none."""
    inputs = handmade_map(tmp_path / "in")
    kept = build_dataset(
        [inputs], tmp_path / "a", config=config(min_snr=50), classes=CLASSES, seed=3
    )
    assert sum(c["annotations"] for c in kept["counts"].values()) == 5
    none = build_dataset(
        [inputs], tmp_path / "b", config=config(min_snr=500), classes=CLASSES, seed=3
    )
    assert sum(c["images"] for c in none["counts"].values()) == 0
    assert none["dropped_cutouts"]["empty"] == 56


def test_min_snr_by_class_overrides_the_global_cut(tmp_path: Path) -> None:
    """A global cut of 500 drops everything but the class given its own threshold of 0."""
    inputs = handmade_map(tmp_path / "in")
    cfg = config(min_snr=500, min_snr_by_class={"diffuse": 0.0})
    build_dataset([inputs], tmp_path / "a", config=cfg, classes=CLASSES, seed=3)
    kept = [
        ann["class"]
        for split in SPLITS
        for ann in json.loads((tmp_path / "a" / "annotations" / f"{split}.json").read_text())[
            "annotations"
        ]
    ]
    assert kept == ["diffuse"]


def test_library_errors(tmp_path: Path) -> None:
    inputs = handmade_map(tmp_path / "in", truth_class="halo")
    with pytest.raises(InputFileError, match=r"class 'halo' is not among the configured classes"):
        build_dataset([inputs], tmp_path / "out", config=config(), classes=CLASSES, seed=1)
    with pytest.raises(InputFileError, match="no maps given"):
        build_dataset([], tmp_path / "out", config=config(), classes=CLASSES, seed=1)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------- CLI
def run_cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli_main(["build-cutouts", "-q", *[str(a) for a in argv]])
    return status, capsys.readouterr().err


def map_args(inputs: MapInputs) -> list[str]:
    return [
        "--map",
        str(inputs.map_path),
        "--segmentation",
        str(inputs.segmentation_path),
        "--truth",
        str(inputs.truth_path),
    ]


SETTINGS = json.dumps({"size_pix": SIZE, "region_block_pix": BLOCK, "empty_fraction": 0.0})


def test_cli_builds_and_refuses_existing_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = handmade_map(tmp_path / "in")
    out = tmp_path / "out"
    args = [*map_args(inputs), "--out", out, "--settings", SETTINGS, "--seed", "3"]
    assert run_cli(args, capsys)[0] == 0
    assert json.loads((out / "dataset.json").read_text())["counts"]["train"]["images"] >= 0
    status, err = run_cli(args, capsys)
    assert status == 1 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert run_cli([*args, "--overwrite"], capsys)[0] == 0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown-class", r"class 'halo' is not among the configured classes \['compact'"),
        ("no-maps", "no maps given"),
        ("mismatch", r"--map x1, --segmentation x1, --truth x2"),
        ("config-typo", "cutouts.size_px': unknown key"),
        ("not-fits", "field.fits: not a FITS file"),
        ("no-beam", "field.fits: no beam keywords"),
        ("seg-shape", r"segmentation shape \(100, 512\) differs from its map's shape \(512, 512\)"),
        ("seg-id-without-truth", r"no truth rows for object ids \[77\]"),
        ("small-block", "region_block_pix \\(32\\) must be at least size_pix"),
    ],
)
def test_cli_errors(
    case: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = handmade_map(
        tmp_path / "in", truth_class="halo" if case == "unknown-class" else "diffuse"
    )
    out = tmp_path / "out"
    args: list[Any] = [*map_args(inputs), "--out", out]
    if case == "no-maps":
        args = ["--out", out]
    elif case == "mismatch":
        args += ["--truth", inputs.truth_path]
    elif case == "config-typo":
        args += ["--settings", json.dumps({"cutouts": {"size_px": 32}})]
    elif case == "not-fits":
        inputs.map_path.write_text("SIMPLE? no")
    elif case == "no-beam":
        with fits.open(inputs.map_path, mode="update") as hdul:
            del hdul[0].header["BMAJ"]
            del hdul[0].header["BMIN"]
    elif case in ("seg-shape", "seg-id-without-truth"):
        seg = fits.getdata(inputs.segmentation_path)
        seg[500, 500] = 77
        seg = seg[:100] if case == "seg-shape" else seg
        fits.writeto(inputs.segmentation_path, seg, overwrite=True)
    elif case == "small-block":
        args += ["--settings", json.dumps({"size_pix": 64, "region_block_pix": 32})]
    status, err = run_cli(args, capsys)
    assert status == 1
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("skysift build-cutouts: error:")
    assert re.search(message, err), err
    if case == "unknown-class":
        assert str(inputs.truth_path) in err
    assert not out.exists()
    assert not list(tmp_path.glob(".out.tmp-*"))
