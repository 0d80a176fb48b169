"""RGZ labels: components and peaks on hand-made images, and the simulator's truth agrees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skysift.cli import main as cli_main
from skysift.data.config import SPLITS
from skysift.io.catalogue import read_truth
from skysift.ssl.config import LabelledSetConfig, SSLConfig
from skysift.ssl.labels import RGZ_CLASSES, count_components_and_peaks, rgz_class
from skysift.ssl.survey import LabelledMap, labelled_from_maps

BEAM_PIX = 5.0


def gaussians(
    shape: tuple[int, int], centres: list[tuple[float, float]], sigma: float
) -> np.ndarray:
    """Sum of unit Gaussians of ``sigma`` pixels at (y, x) centres."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape)
    for cy, cx in centres:
        out += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return out


@pytest.mark.parametrize(
    ("centres", "expected"),
    [
        ([(32, 32)], (1, 1)),  # one blob
        ([(32, 24), (32, 36)], (1, 2)),  # two overlapping blobs: one island, two maxima
        ([(32, 20), (32, 32), (32, 44)], (1, 3)),  # a chain of three in one island
        ([(32, 10), (32, 54)], (2, 2)),  # two separate islands
        ([(20, 10), (20, 21), (50, 50)], (2, 3)),  # a double island and a single one
        ([(10, 10), (10, 54), (54, 32)], (3, 3)),  # three separate islands
    ],
)
def test_hand_made_components_and_peaks(
    centres: list[tuple[float, float]], expected: tuple[int, int]
) -> None:
    model = gaussians((64, 64), centres, sigma=3.0)
    mask = model >= 0.05
    counts = count_components_and_peaks(model, mask, beam_fwhm_pix=BEAM_PIX)
    assert counts == expected
    assert rgz_class(*counts) == f"{expected[0]}C-{expected[1]}P"


def test_plateau_is_one_peak_and_peaks_outside_the_mask_do_not_count() -> None:
    model = gaussians((40, 40), [(11.5, 11.5)], sigma=2.0) + gaussians((40, 40), [(30, 30)], 1.0)
    model[10:14, 10:14] = model.max()  # flat top: one peak
    mask = model > 0.05
    mask[25:, 25:] = False  # the second maximum lies outside the object's mask
    assert count_components_and_peaks(model, mask, beam_fwhm_pix=3) == (1, 1)


def test_classes_outside_the_scheme_are_none() -> None:
    assert rgz_class(2, 1) is None  # two islands, one peak: not an RGZ class
    assert rgz_class(1, 4) is None
    assert rgz_class(4, 4) is None
    assert [rgz_class(int(n[0]), int(n[3])) for n in RGZ_CLASSES] == list(RGZ_CLASSES)


SMALL_SKY = {
    "geometry": {"nx": 384, "ny": 384, "pixel_scale_arcsec": 2.0},
    "beam": {"bmaj_arcsec": 12.0, "bmin_arcsec": 10.0, "bpa_deg": 30.0},
    "noise": {"rms_jy": 3e-5, "blank_margin_pix": 8},
    "compact": {"count": 25},
    "extended": {"count": 50, "flux_min_jy": 1e-3, "irregular_fraction": 0.7},
    "extended_multi": {"count": 25, "flux_min_jy": 2e-3, "las_min_arcsec": 40.0},
    "diffuse": {"count": 0},
    "spurious": {"count": 0},
}


@pytest.fixture(scope="module")
def small_sky(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulated 384 x 384 map with many resolved sources (~2 s)."""
    out = tmp_path_factory.mktemp("ssl_sky") / "sky"
    argv = ["simulate-sky", "--settings", json.dumps(SMALL_SKY), "--seed", "3", "--name", "t"]
    assert cli_main([*argv, "--out", str(out), "-q"]) == 0
    return out


def test_truth_counts_are_the_label_definition(small_sky: Path) -> None:
    """For isolated objects, recounting on the noiseless model gives the truth's numbers."""
    from skysift.sky.config import SimulationConfig
    from skysift.sky.simulate import simulate_sky

    sky = simulate_sky(SimulationConfig.model_validate(SMALL_SKY), seed=3, name="t")
    checked = 0
    for row in sky.truth:
        oid = int(row["id"])
        if int(row["bbox_xmin"]) < 0:
            continue
        y0, y1 = int(row["bbox_ymin"]) - 3, int(row["bbox_ymax"]) + 3
        x0, x1 = int(row["bbox_xmin"]) - 3, int(row["bbox_xmax"]) + 3
        if min(y0, x0) < 0 or y1 > 384 or x1 > 384:
            continue
        window = sky.segmentation[y0:y1, x0:x1]
        if set(np.unique(window)) - {0, oid}:
            continue  # a neighbour in the window: the total model is not this object's own
        counts = count_components_and_peaks(
            sky.model[y0:y1, x0:x1], window == oid, beam_fwhm_pix=10.0 / 2.0
        )
        assert counts == (int(row["n_islands"]), int(row["n_peaks"])), oid
        checked += 1
    assert checked >= 8


def test_labelled_set_from_a_simulated_map(small_sky: Path) -> None:
    config = LabelledSetConfig(min_snr=10.0, max_per_class=None, region_block_pix=128)
    ssl = SSLConfig(cutout_pix=64)
    entry = LabelledMap(
        small_sky / "map.fits", small_sky / "segmentation.fits", small_sky / "truth.fits"
    )
    cutouts = labelled_from_maps(
        [entry], config, cutout_pix=64, crop_fraction=ssl.crop_fraction,
        min_valid_fraction=0.9, seed=1,
    )  # fmt: skip
    truth = {int(r["id"]): r for r in read_truth(small_sky / "truth.fits")}
    assert len(cutouts) >= 12 and cutouts.images.shape[1:] == (64, 64)
    assert cutouts.classes == list(RGZ_CLASSES)
    assert len(np.unique(cutouts.labels)) >= 3
    assert cutouts.masks is not None
    visible = int(0.68 * 64)
    lo = (64 - visible) // 2
    for i, name in enumerate(cutouts.ids):
        row = truth[int(name.rsplit("_", 1)[1])]
        assert RGZ_CLASSES[cutouts.labels[i]] == rgz_class(
            int(row["n_islands"]), int(row["n_peaks"])
        )
        assert float(row["snr"]) >= 10.0
        ys, xs = np.nonzero(cutouts.masks[i])
        assert ys.size == int(row["mask_area"])  # the whole object is in the cutout ...
        assert ys.min() >= lo - 1 and ys.max() <= lo + visible  # ... inside the visible part
        assert xs.min() >= lo - 1 and xs.max() <= lo + visible
    assert set(np.unique(cutouts.splits)) <= {SPLITS.index("train"), SPLITS.index("test")}
    assert np.all(np.isfinite(cutouts.images))
