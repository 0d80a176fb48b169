"""Attributions: IG of a known linear model, mask geometry, the sanity numbers of explain()."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from skysift.data.config import ChannelSpec, NormalisationSpec
from skysift.ssl.augment import Preprocess
from skysift.ssl.explain import (
    cam_layer,
    explain,
    integrated_gradients,
    mask_to_input,
    mass_inside,
)
from skysift.ssl.models import build_backbone

SPEC = NormalisationSpec(channels=[ChannelSpec(method="minmax")])


def test_ig_of_a_model_that_only_looks_inside_a_box_is_all_inside() -> None:
    weights = torch.zeros(2, 1, 16, 16)
    weights[1, 0, 4:8, 4:8] = 1.0  # class 1 sums the pixels of a 4 x 4 box
    model = nn.Sequential(nn.Flatten(), nn.Linear(256, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(weights.reshape(2, -1))
    inputs = torch.rand(3, 1, 16, 16)
    ig = integrated_gradients(model, inputs, torch.tensor([1, 1, 1]), steps=8)
    np.testing.assert_allclose(ig[:, 0, 4:8, 4:8], inputs[:, 0, 4:8, 4:8].numpy(), rtol=1e-4)
    box = np.zeros((16, 16), dtype=bool)
    box[4:8, 4:8] = True
    assert all(abs(mass_inside(a, box) - 1.0) < 1e-6 for a in ig)
    assert mass_inside(np.ones((1, 16, 16)), box) == box.mean()


def test_masks_follow_the_input_geometry() -> None:
    preprocess = Preprocess(SPEC, image_pix=16, crop_fraction=0.5)
    mask = np.zeros((64, 64), dtype=bool)
    mask[16:48, 16:32] = True  # the left half of the central part the model sees
    out = mask_to_input(mask, preprocess)
    assert out.shape == (16, 16) and out[:, :8].all() and not out[:, 8:].any()
    assert cam_layer(128) == "layer4" and cam_layer(32) == "layer2" and cam_layer(16) == "layer1"


def test_explain_reports_fractions_for_trained_random_and_area() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    images = rng.normal(0, 1e-4, (6, 32, 32)).astype(np.float32)
    masks = np.zeros((6, 32, 32), dtype=bool)
    for i in range(6):
        blob = np.exp(-((yy - 12 - i) ** 2 + (xx - 16) ** 2) / 6.0)
        images[i] += (3e-3 * blob).astype(np.float32)
        masks[i] = blob > 0.1
    labels = np.array([0, 1, 0, 1, 0, 1])

    def model(seed: int) -> nn.Sequential:
        trunk, dim = build_backbone("resnet18", 1, seed=seed)
        torch.manual_seed(seed)
        return nn.Sequential(trunk, nn.Linear(dim, 2))

    result = explain(
        model(1), model(2), images, masks, labels, ["a", "b"], Preprocess(SPEC, 16, 0.68),
        per_class=2, steps=4,
    )  # fmt: skip
    summary = result.summary
    assert summary["n_images"] == 4 and set(summary["by_class"]) == {"a", "b"}
    assert result.ig.shape == (4, 1, 16, 16) and result.cam.shape == (4, 16, 16)
    for key in ("trained", "random_model", "mask_area"):
        assert 0.0 < summary[key] < 1.0, key
    assert summary["grad_cam_layer"] == "layer1"
