"""Detector dataset, radio augmentations and the step-indexed, class-balanced sampler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skysift.data.coco import decode_mask
from skysift.detect.config import AugmentConfig
from skysift.detect.dataset import (
    CutoutDataset,
    StepBatchSampler,
    epoch_order,
    masks_to_boxes,
    read_dataset_info,
)
from skysift.detect.toy import TOY_RMS, make_toy_dataset
from skysift.detect.transforms import augment, robust_rms
from skysift.errors import ConfigError, InputFileError


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), size=48, images_per_split=(4, 1, 1))


def test_item_is_normalised_image_and_exact_targets(toy: Path) -> None:
    dataset = CutoutDataset(toy, "train")
    assert len(dataset) == 4 and dataset.classes == ["compact", "extended"]
    image, target = dataset[0]
    assert image.shape == (1, 48, 48) and str(image.dtype) == "torch.float32"
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    doc = json.loads((toy / "annotations" / "train.json").read_text())
    anns = [a for a in doc["annotations"] if a["image_id"] == target["image_id"]]
    assert target["labels"].tolist() == [a["category_id"] for a in anns]
    assert target["masks"].shape == (len(anns), 48, 48)
    for box, ann in zip(target["boxes"].tolist(), anns, strict=True):
        x, y, w, h = ann["bbox"]
        assert box == [x, y, x + w, y + h]  # x2, y2 are pixel edges
        assert int(decode_mask(ann["segmentation"]).sum()) == ann["area"]


def test_masks_to_boxes_pixel_edges() -> None:
    masks = np.zeros((1, 10, 12), dtype=bool)
    masks[0, 2:5, 3:9] = True
    assert masks_to_boxes(masks).tolist() == [[3.0, 2.0, 9.0, 5.0]]


def test_augment_moves_masks_with_image_and_scales_flux() -> None:
    rng = np.random.default_rng(0)
    image = rng.normal(0.0, 1e-4, (32, 32)).astype(np.float32)
    masks = np.zeros((1, 32, 32), dtype=bool)
    masks[0, 3:6, 20:28] = True
    image[masks[0]] += 1.0  # the only bright pixels are the mask's
    config = AugmentConfig(flux_scale=(2.0, 2.0), noise_sigma=(0.0, 0.0))
    seen = set()
    for seed in range(12):
        out, out_masks = augment(image, masks, config, np.random.default_rng(seed))
        assert np.array_equal(out > 1.0, out_masks[0])
        assert out_masks.sum() == masks.sum()
        assert np.allclose(np.sort(out.ravel()), np.sort(2.0 * image.ravel()))
        seen.add(out_masks.tobytes())
    assert len(seen) >= 6  # flips x rotations give up to 8 distinct placements
    off = AugmentConfig(flips=False, rot90=False, flux_scale=(1, 1), noise_sigma=(0, 0))
    same, same_masks = augment(image, masks, off, np.random.default_rng(1))
    assert np.array_equal(same, image) and np.array_equal(same_masks, masks)


def test_added_noise_in_units_of_the_rms() -> None:
    image = np.random.default_rng(1).normal(0.0, 2e-4, (128, 128)).astype(np.float32)
    config = AugmentConfig(flips=False, rot90=False, flux_scale=(1, 1), noise_sigma=(1.0, 1.0))
    out, _ = augment(image, np.zeros((0, 128, 128), bool), config, np.random.default_rng(2))
    added = out - image
    assert np.std(added) == pytest.approx(robust_rms(image), rel=0.05)
    assert robust_rms(image) == pytest.approx(2e-4, rel=0.05)


def test_augmentation_is_seeded_per_sample(toy: Path) -> None:
    dataset = CutoutDataset(toy, "train", augment_config=AugmentConfig())
    a, _ = dataset[(1, 99)]
    b, _ = dataset[(1, 99)]
    c, _ = dataset[(1, 100)]
    plain, _ = dataset[1]
    assert np.array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    assert not np.array_equal(a.numpy(), plain.numpy())


def test_sampler_is_a_function_of_the_step() -> None:
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    full = list(StepBatchSampler(4, batch_size=3, seed=5, max_steps=7, weights=weights))
    resumed = list(
        StepBatchSampler(4, batch_size=3, seed=5, max_steps=7, start_step=4, weights=weights)
    )
    assert len(full) == 7 and resumed == full[4:]
    # epochs of 2 steps (3 + 1 images); a permutation covers every image once per epoch
    plain = list(StepBatchSampler(4, batch_size=3, seed=5, max_steps=2))
    assert sorted(i for batch in plain for i, _ in batch) == [0, 1, 2, 3]
    orders = {tuple(epoch_order(6, epoch, seed=5, weights=None)) for epoch in range(5)}
    assert len(orders) > 1  # a new order each epoch
    draws = epoch_order(4000, 0, seed=1, weights=np.repeat(weights, 1000) / 1000)
    assert np.mean(draws >= 3000) == pytest.approx(0.4, abs=0.03)


def test_class_balanced_weights_follow_the_rarest_class(tmp_path: Path) -> None:
    root = make_toy_dataset(
        tmp_path / "toy", size=32, images_per_split=(3, 0, 0), sources_per_image=1
    )
    path = root / "annotations" / "train.json"
    doc = json.loads(path.read_text())
    # image 1: extended; images 2, 3: compact -> weights 1/1 : 1/2 : 1/2
    for ann, (category, name) in zip(
        doc["annotations"], [(2, "extended"), (1, "compact"), (1, "compact")], strict=True
    ):
        ann["category_id"], ann["class"] = category, name
    path.write_text(json.dumps(doc))
    weights = CutoutDataset(root, "train").image_weights()
    assert weights.tolist() == pytest.approx([0.5, 0.25, 0.25])


def test_unknown_class_and_bad_files(tmp_path: Path) -> None:
    root = make_toy_dataset(tmp_path / "toy", size=32, images_per_split=(2, 0, 0))
    path = root / "annotations" / "train.json"
    doc = json.loads(path.read_text())
    doc["categories"].append({"id": 3, "name": "sidelobe", "supercategory": "radio"})
    doc["annotations"][0]["category_id"], doc["annotations"][0]["class"] = 3, "sidelobe"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"class 'sidelobe' in .*train.json is not among"):
        CutoutDataset(root, "train")
    with pytest.raises(InputFileError, match=r"annotations of split 'nope' not found"):
        CutoutDataset(root, "nope")
    (root / "dataset.json").write_text("{}")
    with pytest.raises(InputFileError, match=r"dataset.json: not a valid skysift dataset"):
        read_dataset_info(root)
    with pytest.raises(InputFileError, match=r"dataset.json not found"):
        read_dataset_info(tmp_path)


def test_toy_noise_level(toy: Path) -> None:
    from astropy.io import fits

    data = fits.getdata(toy / "images" / "train" / "toy_0.fits")
    assert robust_rms(data) == pytest.approx(TOY_RMS, rel=0.15)
