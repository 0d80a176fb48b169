"""Diffusion chain: windows, a tiny DDPM (falling loss, exact resume), reproducible sampling,
pasted sources that keep the noise untouched, COCO validity, the paste baseline, quality, the
detector's extra training set, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from skysift.cli import main as cli_main
from skysift.data.coco import decode_mask, validate_coco
from skysift.data.cutouts import load_cutout
from skysift.diffusion.config import DiffusionModelConfig, DiffusionTrainConfig, SampleConfig
from skysift.diffusion.model import bin_max, bin_mean, decode_snr, encode_snr, load_model, upsample
from skysift.diffusion.pipeline import sample_synthetic_set
from skysift.diffusion.sample import Stamp, calibrate_brightness, coded_masks, model_stamps
from skysift.diffusion.train import train_diffusion
from skysift.diffusion.windows import load_windows, snr_image
from skysift.errors import ConfigError, InputFileError

TINY_MODEL: dict[str, Any] = {
    "window_pix": 32,
    "downsample": 2,
    "block_out_channels": [16, 32],
    "attention_levels": [],
    "train_timesteps": 100,
    "sample_steps": 4,
}
RARE = {"extended": 3, "compact": 2}  # the tiny set has whole objects of these only


def tiny_train(**extra: Any) -> DiffusionTrainConfig:
    return DiffusionTrainConfig.model_validate(
        {
            "model": TINY_MODEL,
            "batch_size": 4,
            "max_steps": 4,
            "warmup_steps": 1,
            "checkpoint_every": 2,
            "log_every": 2,
            "lr": 1e-3,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """A 256x256 simulated map cut into 64 px cutouts (settings of the tiny workflow)."""
    base = tmp_path_factory.mktemp("diffusion")
    settings = str(repo_root / "tests" / "workflow" / "config.yaml")
    sky = base / "sky"
    common = ["--settings", settings]
    assert (
        cli_main(
            ["simulate-sky", "-q", *common, "--seed", "3", "--name", "sim000", "--out", str(sky)]
        )
        == 0
    )
    out = base / "cutouts"
    argv = ["build-cutouts", "-q", "--map", str(sky / "map.fits"), "--segmentation"]
    argv += [str(sky / "segmentation.fits"), "--truth", str(sky / "truth.fits"), *common]
    assert cli_main([*argv, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def model_dir(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddpm")
    train_diffusion(tiny_train(), dataset, out, resume=False)
    return out


def test_windows_hold_emission_inside_masks_only(dataset: Path) -> None:
    windows = load_windows(dataset, window_pix=32)
    assert len(windows) > 0 and windows.masks.shape[1] == len(windows.classes)
    union = windows.masks.any(axis=1)
    assert np.all(windows.snr[~union] == 0.0)
    assert np.mean(windows.snr[windows.own]) > 1.0  # masks: model >= 1 sigma (faint pixels noisy)
    assert np.all(windows.own <= union)
    # the centred object is number 1 of its layout, with its own class
    for layout, labels, own, label in zip(
        windows.layout, windows.layout_labels, windows.own, windows.labels, strict=True
    ):
        if own.any():
            assert labels[0] == label and np.any(layout[own] == 1)


def test_snr_image_uses_the_rms_outside_masks() -> None:
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 2e-4, (64, 64)).astype(np.float32)
    mask = np.zeros((64, 64), bool)
    mask[20:30, 20:30] = True
    image[mask] += 5e-3
    snr, rms = snr_image(image, mask)
    assert rms == pytest.approx(2e-4, rel=0.1)
    assert np.all(snr[~mask] == 0) and np.median(snr[mask]) == pytest.approx(25, rel=0.15)


def test_value_encoding_and_binning() -> None:
    config = DiffusionModelConfig()
    snr = np.array([0.0, 1.0, 10.0, 300.0, 2999.0])
    assert encode_snr(np.array([0.0]), config)[0] == -1.0
    np.testing.assert_allclose(
        decode_snr(encode_snr(snr, config), config), snr, rtol=1e-6, atol=1e-9
    )
    assert encode_snr(np.array([1e6]), config)[0] == 1.0
    block = np.arange(16, dtype=float).reshape(4, 4)
    assert bin_mean(block, 2).tolist() == [[2.5, 4.5], [10.5, 12.5]]
    assert bin_max(block > 14, 2).tolist() == [[False, False], [False, True]]
    up = upsample(torch.ones(1, 1, 3, 3), 2)
    assert up.shape == (1, 1, 6, 6) and torch.allclose(up, torch.ones_like(up))


def test_config_rejects_a_window_the_unet_cannot_halve() -> None:
    with pytest.raises(ValueError, match="multiple of"):
        DiffusionModelConfig(window_pix=100, downsample=2)


def test_tiny_model_loss_falls(dataset: Path, tmp_path: Path) -> None:
    summary = train_diffusion(
        tiny_train(max_steps=40, log_every=20, checkpoint_every=40), dataset, tmp_path
    )
    import csv

    with (tmp_path / "train_log.csv").open() as handle:
        losses = [float(r["loss"]) for r in csv.DictReader(handle)]
    assert len(losses) == 40 and summary["steps"] == 40
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])
    assert (tmp_path / "loss_curve.png").stat().st_size > 0


def test_resume_after_a_kill_gives_identical_weights(
    dataset: Path, model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    train_diffusion(tiny_train(max_steps=2), dataset, tmp_path, resume=False)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == 2
    train_diffusion(tiny_train(max_steps=4), dataset, tmp_path, resume=True)
    straight = torch.load(model_dir / "model.pt", weights_only=True)["model"]
    resumed = torch.load(tmp_path / "model.pt", weights_only=True)["model"]
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    # other settings: another run, which starts afresh (a workflow rerun after a config change)
    with caplog.at_level("WARNING", logger="skysift.io.resume"):
        train_diffusion(tiny_train(max_steps=2, lr=5e-4), dataset, tmp_path, resume=True)
    assert "other settings (lr)" in caplog.text
    fresh = tmp_path / "fresh"
    train_diffusion(tiny_train(max_steps=2, lr=5e-4), dataset, fresh, resume=False)
    for name in ("model.pt", "last.pt"):
        replaced = torch.load(tmp_path / name, weights_only=True)["model"]
        for key, value in torch.load(fresh / name, weights_only=True)["model"].items():
            assert torch.equal(value, replaced[key]), (name, key)


def test_mask_conditioned_samples_obey_the_layout_and_repeat_from_a_seed(model_dir: Path) -> None:
    unet, meta = load_model(model_dir / "model.pt")
    config = DiffusionModelConfig.model_validate(meta["config"])
    layout = np.zeros((32, 32), np.int16)
    layout[10:20, 12:18] = 1
    layouts = [(layout, (1,)), (layout, (3,))]
    kwargs: dict[str, Any] = {
        "n_classes": len(meta["classes"]),
        "batch_size": 2,
        "device": torch.device("cpu"),
    }
    first = model_stamps(unet, config, layouts, seed=5, **kwargs)
    again = model_stamps(unet, config, layouts, seed=5, **kwargs)
    other = model_stamps(unet, config, layouts, seed=6, **kwargs)
    for a, b in zip(first, again, strict=True):
        assert a is not None and b is not None
        np.testing.assert_array_equal(a.snr, b.snr)
        assert np.all(a.snr[layout == 0] == 0)
    assert not np.array_equal(first[0].snr, other[0].snr)  # type: ignore[union-attr]
    assert coded_masks(layout, (1,), 5)[1].sum() == layout.sum()


def _sample(
    dataset: Path, out: Path, model: Path | None, simulation: Any = None, **settings: Any
) -> dict[str, Any]:
    config = SampleConfig.model_validate({"per_class": RARE, "margin_pix": 2, **settings})
    return sample_synthetic_set(config, dataset, out, model_path=model, simulation=simulation)


def test_pasted_sources_keep_the_noise_and_form_a_valid_coco_set(
    dataset: Path, model_dir: Path, tmp_path: Path
) -> None:
    counts = _sample(dataset, tmp_path / "syn", model_dir / "model.pt", seed=11)
    doc = json.loads((tmp_path / "syn" / "dataset.json").read_text())
    classes = [c["name"] for c in doc["classes"]]
    coco = validate_coco(tmp_path / "syn" / "annotations" / "train.json", classes=classes)
    synthetic = [a for a in coco["annotations"] if a.get("synthetic")]
    assert counts["train"]["synthetic_per_class"]["extended"] >= 1
    assert len(synthetic) == sum(counts["train"]["synthetic_per_class"].values())
    assert all(a["object_id"] < 0 and a["generator"] == "diffusion" for a in synthetic)
    assert (tmp_path / "syn" / "samples.png").stat().st_size > 0
    files = {im["id"]: im["file_name"] for im in coco["images"]}
    for image_id, name in files.items():
        new = load_cutout(tmp_path / "syn" / name)
        old = load_cutout(dataset / "images" / "train" / Path(name).name.replace("_syn", ""))
        added = np.zeros(new.shape, bool)
        for ann in synthetic:
            if ann["image_id"] == image_id:
                added |= decode_mask(ann["segmentation"]).astype(bool)
        assert added.any()
        # outside the new masks the cutout is bit-identical: the survey noise is untouched
        np.testing.assert_array_equal(new[~added], old[~added])
        assert np.all(new[added] >= old[added])
    # same seed, same set
    _sample(dataset, tmp_path / "again", model_dir / "model.pt", seed=11)
    for name in files.values():
        np.testing.assert_array_equal(
            load_cutout(tmp_path / "syn" / name), load_cutout(tmp_path / "again" / name)
        )


def test_empirical_brightness_keeps_the_pattern_and_draws_the_class_mean() -> None:
    layout = np.zeros((8, 8), np.int16)
    layout[1:3, 1:4] = 1
    layout[5:7, 5:7] = 2
    snr = np.where(layout > 0, np.arange(64, dtype=np.float32).reshape(8, 8) + 1.0, 0.0)
    stamp = Stamp(snr.astype(np.float32), layout, (0, 2))
    pools = {0: np.array([5.0, 6.0]), 2: np.array([])}  # class 2: no training object
    (out,) = calibrate_brightness([stamp], pools, np.random.default_rng(0))
    one, two = layout == 1, layout == 2
    assert float(out.snr[one].mean()) == pytest.approx(5.0) or float(
        out.snr[one].mean()
    ) == pytest.approx(6.0)
    ratio = out.snr[one] / snr[one]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6)  # the sampled pattern is kept
    np.testing.assert_array_equal(out.snr[two], snr[two])  # no pool: left as generated
    assert np.all(out.snr[layout == 0] == 0)
    (again,) = calibrate_brightness([stamp], pools, np.random.default_rng(0))
    np.testing.assert_array_equal(out.snr, again.snr)


def test_paste_baseline_is_flat_at_the_typical_snr(dataset: Path, tmp_path: Path) -> None:
    _sample(dataset, tmp_path / "paste", None, generator="paste", seed=3)
    coco = json.loads((tmp_path / "paste" / "annotations" / "train.json").read_text())
    for ann in (a for a in coco["annotations"] if a.get("synthetic")):
        image = next(im for im in coco["images"] if im["id"] == ann["image_id"])
        new = load_cutout(tmp_path / "paste" / image["file_name"])
        old = load_cutout(
            dataset / "images" / "train" / Path(image["file_name"]).name.replace("_syn", "")
        )
        mask = decode_mask(ann["segmentation"]).astype(bool)
        step = (new - old)[mask]
        assert np.allclose(step, step[0], rtol=1e-4) and step[0] > 0


def test_quality_stage_and_extra_training_set(
    dataset: Path, model_dir: Path, tmp_path: Path, repo_root: Path
) -> None:
    from skysift.settings import load_section
    from skysift.sky.config import SimulationConfig

    _sample(dataset, tmp_path / "syn", model_dir / "model.pt", seed=2)
    simulation = load_section(
        SimulationConfig, "simulate", str(repo_root / "tests" / "workflow" / "config.yaml")
    )
    counts = _sample(
        dataset,
        tmp_path / "paste",
        None,
        simulation,
        generator="paste",
        mask_source="simulator",
        per_class={"extended-multi": 2, "spurious": 1},
        min_visible_fraction=0.2,  # the artefact pattern is wider than these 64 px cutouts
        max_tries=2000,
        seed=2,
    )
    assert counts["train"]["synthetic_per_class"]["spurious"] == 1
    assert counts["train"]["synthetic_per_class"]["compact"] >= 1  # the artefact's parent
    from skysift.data.config import NormalisationSpec
    from skysift.ssl.checkpoint import backbone_metadata, save_backbone
    from skysift.ssl.models import build_backbone

    spec = NormalisationSpec.model_validate(
        json.loads((dataset / "dataset.json").read_text())["normalisation"]
    )
    trunk, dim = build_backbone("resnet18", len(spec.channels), seed=0)
    meta = backbone_metadata(
        backbone="resnet18", spec=spec, feature_dim=dim, image_pix=32, crop_fraction=1.0
    )
    save_backbone(tmp_path / "backbone.pt", trunk, meta)
    argv = ["diffusion-quality", "-q", "--dataset", str(dataset), "--synthetic"]
    argv += [str(tmp_path / "syn"), str(tmp_path / "paste"), "--out", str(tmp_path / "q")]
    argv += ["--backbone", str(tmp_path / "backbone.pt"), "--finder-cutouts-per-class", "1"]
    assert cli_main(argv) == 0
    quality = json.loads((tmp_path / "q" / "quality.json").read_text())
    assert set(quality["sets"]) == {"diffusion", "paste"}
    for summary in quality["sets"].values():
        assert summary["background_rms_ratio_median"] == pytest.approx(1.0, abs=0.02)
        assert summary["frechet_synthetic_vs_heldout"] > 0
        assert 0 <= summary["classifier_recall_synthetic_mean"] <= 1
    assert {r["class"] for r in quality["rows"]} >= {"extended", "spurious"}
    for row in quality["rows"]:
        assert (
            row["classifier_recall_synthetic"] is None
            or 0 <= row["classifier_recall_synthetic"] <= 1
        )
        # PyBDSF's view, beside the masks': real objects of the class where the set has some
        assert row["finder_n_synthetic"] >= 1
        assert (row["finder_found_real"] is None) == (row["finder_n_real"] == 0)
    measured = [r for r in quality["rows"] if r["finder_n_real"]]
    assert measured and all(0 <= r["finder_found_real"] <= 1 for r in measured)
    assert all(s["finder_cutouts"] >= 1 for s in quality["sets"].values())
    table = (tmp_path / "q" / "quality.md").read_text()
    assert "| set | class |" in table and "As PyBDSF sees them" in table

    from skysift.detect.dataset import CutoutDataset

    base = CutoutDataset(dataset, "train")
    n = len(base)
    added = base.add_train_set(tmp_path / "syn")
    assert added > 0 and len(base) == n + added
    assert len({r.image_id for r in base.records}) == len(base.records)


def test_errors_are_one_line(
    dataset: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    argv = ["sample-diffusion", "--dataset", str(dataset), "--out", str(tmp_path / "o")]
    assert cli_main([*argv, "--model", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert "bad.pt" in err and len(err.splitlines()) == 1
    assert cli_main(argv) == 1
    assert "--model" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="per_class"):
        _sample(dataset, tmp_path / "x", model_dir / "model.pt", per_class={"galaxy": 2})
    assert not (tmp_path / "o").exists() and not (tmp_path / "x").exists()
    train_argv = [
        "train-diffusion",
        "--dataset",
        str(tmp_path / "nowhere"),
        "--out",
        str(tmp_path / "t"),
    ]
    assert cli_main(train_argv) == 1
    assert "dataset.json" in capsys.readouterr().err


def test_simulator_layouts_are_whole_fresh_objects(repo_root: Path) -> None:
    from skysift.diffusion.masks import draw_layouts, simulator_windows
    from skysift.settings import load_section
    from skysift.sky.config import SimulationConfig

    simulation = load_section(
        SimulationConfig, "simulate", str(repo_root / "tests" / "workflow" / "config.yaml")
    )
    classes = ["compact", "extended", "extended-multi", "diffuse", "spurious"]
    windows = simulator_windows(
        simulation, "extended", 3, classes=classes, window_pix=64, min_mask_pix=4, seed=1
    )
    assert len(windows) == 3 and set(windows.labels) == {1} and not windows.truncated.any()
    assert all(
        np.all(w[~m.any(axis=0)] == 0) for w, m in zip(windows.snr, windows.masks, strict=True)
    )
    spurious = simulator_windows(
        simulation, "spurious", 1, classes=classes, window_pix=128, min_mask_pix=4, seed=1
    )
    # the artefact comes with its bright compact parent, both whole inside the window
    assert spurious.layout_labels[0][0] == 4 and 0 in spurious.layout_labels[0]
    layouts = draw_layouts(windows, 1, 5, np.random.default_rng(0))
    assert len(layouts) == 5 and all(lay.shape == (64, 64) for lay, _ in layouts)
    with pytest.raises(ConfigError, match="simulator class"):
        simulator_windows(
            simulation, "galaxy", 1, classes=classes, window_pix=64, min_mask_pix=4, seed=1
        )


def test_class_conditioned_variant_trains_and_samples_its_own_masks(
    dataset: Path, tmp_path: Path
) -> None:
    config = tiny_train()
    config.model.conditioning = "class"
    train_diffusion(config, dataset, tmp_path)
    unet, meta = load_model(tmp_path / "model.pt")
    assert meta["config"]["conditioning"] == "class" and unet.config.in_channels == 1
    model_config = DiffusionModelConfig.model_validate(meta["config"])
    empty = np.zeros((32, 32), np.int16)
    stamps = model_stamps(
        unet, model_config, [(empty, (1,))] * 3, n_classes=5, seed=0, batch_size=3,
        device=torch.device("cpu"), mask_snr=1.0, min_mask_pix=1,
    )  # fmt: skip
    for stamp in stamps:
        if stamp is not None:  # its mask is its own emission above mask_snr
            assert stamp.labels == (1,)
            np.testing.assert_array_equal(stamp.layout > 0, stamp.snr >= 1.0)


def test_loss_region_is_the_grown_union_of_the_masks() -> None:
    from skysift.diffusion.train import loss_region

    masks = np.zeros((1, 3, 9, 9), np.uint8)
    masks[0, 1, 4, 4] = 1
    masks[0, 2, 0, 0] = 1
    region = loss_region(masks, 1)
    assert region.shape == (1, 1, 9, 9) and region.sum() == 5 + 3
    assert region[0, 0, 4, 5] == 1 and region[0, 0, 5, 5] == 0
    assert loss_region(masks, 0).sum() == 2


def test_an_extra_training_set_of_another_normalisation_is_refused(tmp_path: Path) -> None:
    from skysift.data.config import ChannelSpec, NormalisationSpec
    from skysift.detect.dataset import CutoutDataset
    from skysift.detect.toy import make_toy_dataset

    base = make_toy_dataset(tmp_path / "a", size=32, images_per_split=(2, 0, 0))
    same = make_toy_dataset(tmp_path / "b", size=32, images_per_split=(3, 0, 0), seed=1)
    other_spec = NormalisationSpec(channels=[ChannelSpec(method="asinh")])
    other = make_toy_dataset(
        tmp_path / "c", size=32, images_per_split=(2, 0, 0), normalisation=other_spec
    )
    dataset = CutoutDataset(base, "train")
    assert dataset.add_train_set(same) == 3 and len(dataset) == 5
    with pytest.raises(InputFileError, match="normalisation or cutout size"):
        dataset.add_train_set(other)


def test_classifier_recall_per_class() -> None:
    from skysift.diffusion.quality import classifier_recall

    rng = np.random.default_rng(0)
    centres = {"compact": [0.0, 0.0, 0.0], "extended": [4.0, 0.0, 0.0], "diffuse": [0.0, 4.0, 0.0]}
    train_x = np.vstack([rng.normal(c, 0.5, (40, 3)) for c in centres.values()])
    train_y = [name for name in centres for _ in range(40)]
    # extended samples drawn like extended; "diffuse" ones drawn like compact: a generator that
    # got the class wrong; a class the classifier never saw counts as missed
    test_x = np.vstack(
        [
            rng.normal(centres["extended"], 0.5, (10, 3)),
            rng.normal(centres["compact"], 0.5, (10, 3)),
        ]
    )
    recall = classifier_recall(train_x, train_y, test_x, ["extended"] * 10 + ["diffuse"] * 10)
    assert recall == {"extended": 1.0, "diffuse": 0.0}
    unseen = classifier_recall(train_x, train_y, test_x[:3], ["spurious"] * 3)
    assert unseen == {"spurious": 0.0}
    assert classifier_recall(train_x[:5], ["compact"] * 5, test_x, ["compact"] * 20) == {}


def test_finder_view_of_masks_is_exact() -> None:
    from skysift.diffusion.finder_quality import measure_masks

    segmentation = np.zeros((10, 10), dtype=np.int32)
    segmentation[1:4, 1:4] = 1  # 9 px, 2 mJy
    segmentation[6:8, 6:9] = 2  # 6 px, 3 mJy
    fluxes = {1: 2e-3, 2: 3e-3}
    inside_one = np.zeros((10, 10), bool)
    inside_one[2:5, 2:5] = True  # 4 px shared with source 1, union 9 + 9 - 4 = 14
    across = np.zeros((10, 10), bool)
    across[3, :] = True
    across[6, :] = True  # touches both sources: 3 + 3 px shared, union 15 + 20 - 6 = 29
    empty = np.zeros((10, 10), bool)
    empty[9, 0] = True
    one, both, none = measure_masks(segmentation, fluxes, [inside_one, across, empty])
    assert one == {"found": True, "flux": pytest.approx(2e-3), "size": 9, "iou": 4 / 14}
    assert both == {"found": True, "flux": pytest.approx(5e-3), "size": 15, "iou": 6 / 29}
    assert none["found"] is False and np.isnan(none["flux"])
    assert (none["size"], none["iou"]) == (0, 0.0)


def test_finder_cutouts_are_drawn_per_class_from_a_seed() -> None:
    from skysift.diffusion.finder_quality import chosen_images, finder_columns

    per_image = {i: [{"class": "compact"}] for i in range(10)}
    per_image[3].append({"class": "diffuse"})
    per_image[11] = [{"class": "diffuse"}]
    chosen = chosen_images(per_image, 2, seed=5)
    assert chosen == sorted(chosen) and chosen == chosen_images(per_image, 2, seed=5)
    holding_diffuse = [i for i in chosen if i in (3, 11)]
    assert holding_diffuse == [3, 11]  # the rare class keeps both of its cutouts
    assert 3 <= len(chosen) <= 4  # + up to 2 compact ones (image 3 may be one of them)
    assert chosen_images(per_image, 0, seed=5) == []

    def row(cls: str, found: bool, flux: float, size: int, iou: float) -> dict[str, Any]:
        return {"class": cls, "found": found, "flux": flux, "size": size, "iou": iou}

    fake = [row("diffuse", True, 1e-3, 10, 0.5), row("diffuse", False, np.nan, 0, 0.0)]
    real = [row("diffuse", True, 2e-3, 30, 0.4), row("diffuse", True, 4e-3, 50, 0.6)]
    columns = finder_columns(fake, real, "diffuse")
    assert columns["finder_found_synthetic"] == 0.5 and columns["finder_found_real"] == 1.0
    assert columns["finder_iou_synthetic"] == 0.25 and columns["finder_iou_real"] == 0.5
    assert columns["finder_flux_median_synthetic_mjy"] == pytest.approx(1.0)
    assert columns["finder_flux_median_real_mjy"] == pytest.approx(3.0)
    assert columns["finder_size_median_real_pix"] == 40
    assert columns["finder_flux_ks"] is None  # one synthetic object found: no KS
    assert finder_columns(fake, real, "spurious")["finder_n_real"] == 0


def test_finder_recovers_the_flux_of_bright_real_sources(dataset: Path) -> None:
    """PyBDSF's flux of bright, whole, compact objects of the cutouts: within 10% of the truth."""
    from skysift.baselines.config import PyBDSFConfig
    from skysift.diffusion.finder_quality import finder_objects

    rows, summary = finder_objects(
        dataset, synthetic_only=False, settings=PyBDSFConfig(), cutouts_per_class=4, seed=0
    )
    assert summary["cutouts"] >= 4
    bright = [r for r in rows if r["class"] == "compact" and r["snr"] >= 30 and not r["truncated"]]
    assert len(bright) >= 2
    for r in bright:
        assert r["found"] and r["iou"] > 0.2
        assert r["flux"] == pytest.approx(r["truth_flux"], rel=0.1)
