"""SSL methods: each loss decreases on a fixed batch; exported weights load into the detector."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from skysift.data.config import ChannelSpec, NormalisationSpec
from skysift.detect.config import DetectorConfig
from skysift.detect.model import build_detector, load_backbone_weights
from skysift.errors import InputFileError
from skysift.ssl.augment import Preprocess, RadioViews, batch_views
from skysift.ssl.checkpoint import load_backbone, read_model_file
from skysift.ssl.config import PretrainConfig, SSLConfig, ViewConfig
from skysift.ssl.datasets import CutoutSet
from skysift.ssl.models import BYOL, DINO, SimCLR, SSLMethod, build_backbone
from skysift.ssl.pretrain import StepBatches, pretrain

SPEC3 = NormalisationSpec(
    channels=[
        ChannelSpec(method="zscale"),
        ChannelSpec(method="asinh"),
        ChannelSpec(method="sigma_clip"),
    ]
)


def tiny_images(n: int = 16, size: int = 48, seed: int = 0) -> np.ndarray:
    """Noise plus one or two Gaussian sources per image, Jy/beam, shape (n, size, size)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = rng.normal(0, 1e-4, (n, size, size))
    for i in range(n):
        for _ in range(1 + i % 2):
            cy, cx = rng.uniform(size * 0.35, size * 0.65, 2)
            images[i] += 3e-3 * np.exp(
                -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(1, 4) ** 2)
            )
    return images.astype(np.float32)


def tiny_backbone() -> tuple[nn.Module, int]:
    """A two-layer CNN (3 channels -> 16 features) standing in for the ResNet."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )  # fmt: skip
    return net, 16


@pytest.mark.parametrize("method_class", [SimCLR, BYOL, DINO])
def test_loss_decreases_on_a_fixed_batch(method_class: type[SSLMethod]) -> None:
    config = PretrainConfig(hidden_dim=32, projection_dim=16, dino_output_dim=64)
    backbone, dim = tiny_backbone()
    torch.manual_seed(1)
    method = method_class(backbone, dim, config)
    views = RadioViews(ViewConfig(), SPEC3, image_pix=16, crop_fraction=0.68)
    images = tiny_images(8)
    rngs = [np.random.default_rng(i) for i in range(8)]
    batch = batch_views(views, images, rngs)  # fixed: the same views at every step
    optimizer = torch.optim.Adam([p for p in method.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for step in range(8):
        loss = method.loss(batch)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.after_step(step, 8)
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-2:]) < losses[0], losses


def test_batches_are_the_same_with_and_without_loader_workers() -> None:
    views = RadioViews(ViewConfig(), SPEC3, image_pix=16, crop_fraction=0.68)
    batches = StepBatches(tiny_images(), views, batch_size=4, seed=2, local=2, steps=3)
    inline = [batches[k] for k in range(3)]
    loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=2)
    for step, batch in enumerate(loader):
        assert [tuple(v.shape) for v in batch] == [(4, 3, 16, 16)] * 2 + [(4, 3, 16, 16)] * 2
        for a, b in zip(batch, inline[step], strict=True):
            assert torch.equal(a, b)
    assert not torch.equal(inline[0][0], inline[1][0])


def test_backbone_takes_the_spec_channels() -> None:
    for channels in (1, 3):
        backbone, dim = build_backbone("resnet18", channels, seed=0)
        out = backbone(torch.zeros(2, channels, 32, 32))
        assert dim == 512 and tuple(out.shape) == (2, 512)
    a, _ = build_backbone("resnet18", 1, seed=5)
    b, _ = build_backbone("resnet18", 1, seed=5)
    for (key, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), key


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ResNet-18 pretrained 2 steps with SimCLR on 16 tiny images: out folder."""
    torch.set_num_threads(1)
    config = SSLConfig(
        image_pix=16, normalisation=SPEC3, seed=3,
        pretrain={"max_steps": 2, "batch_size": 4, "hidden_dim": 32, "projection_dim": 16},
    )  # fmt: skip
    images = tiny_images()
    data = CutoutSet(
        images, np.full(16, -1), np.zeros(16), [f"i{k}" for k in range(16)], [], "random"
    )
    out = tmp_path_factory.mktemp("pretrain") / "simclr"
    summary = pretrain(config, "simclr", data, out)
    assert summary["steps"] == 2 and summary["pretrain_data"] == "random"
    return out


def test_pretrain_writes_backbone_with_config_and_spec(pretrained: Path) -> None:
    for name in ("backbone.pt", "train_log.csv", "loss_curve.png", "summary.json"):
        assert (pretrained / name).is_file(), name
    state = read_model_file(pretrained / "backbone.pt")
    meta = state["skysift"]
    assert meta["method"] == "simclr" and meta["in_channels"] == 3 and meta["image_pix"] == 16
    assert NormalisationSpec.model_validate(meta["normalisation"]) == SPEC3
    assert meta["ssl_config"]["pretrain"]["max_steps"] == 2
    assert set(state["state_dict"]) >= {"conv1.weight", "bn1.running_mean", "layer4.1.bn2.weight"}
    assert not any(k.startswith("fc.") for k in state["state_dict"])
    backbone, _ = load_backbone(pretrained / "backbone.pt")
    preprocess = Preprocess(SPEC3, 16, 0.68)
    inputs = preprocess.batch(tiny_images(4, seed=9))
    with torch.no_grad():
        features = backbone(inputs).numpy()
    assert features.shape == (4, 512) and np.all(np.isfinite(features))
    log = (pretrained / "train_log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss,lr") and len(log) == 3
    assert json.loads((pretrained / "summary.json").read_text())["method"] == "simclr"


def test_ssl_weights_load_into_the_detector_backbone(pretrained: Path) -> None:
    config = DetectorConfig(
        backbone="resnet18_fpn", init="ssl", weights_path=str(pretrained / "backbone.pt")
    )
    model = build_detector(config, num_classes=5, in_channels=3, image_size=64)
    report = load_backbone_weights(model, pretrained / "backbone.pt", kind="ssl")
    trunk = model.backbone.body.state_dict()
    assert not report["missing"] and not report["adapted"]
    assert set(report["loaded"]) == set(trunk)
    source = torch.load(pretrained / "backbone.pt", weights_only=True)["state_dict"]
    for key in ("conv1.weight", "layer3.0.conv2.weight", "bn1.running_var", "layer4.1.bn2.bias"):
        assert torch.equal(trunk[key], source[key]), key
    # a 1-channel detector takes the 3-channel SSL filters, adapted
    one = build_detector(config, num_classes=5, in_channels=1, image_size=64)
    report = load_backbone_weights(one, pretrained / "backbone.pt", kind="ssl")
    assert report["adapted"] == ["conv1.weight"]


def test_detector_refuses_ssl_weights_of_another_normalisation(pretrained: Path) -> None:
    from skysift.detect.model import load_trunk_weights

    trunk, _ = build_backbone("resnet18", 3, seed=0)
    path = pretrained / "backbone.pt"
    load_trunk_weights(trunk, path, kind="ssl", expect_normalisation=SPEC3)  # same: accepted
    other = NormalisationSpec(channels=[ChannelSpec(method="zscale")] * 3)
    with pytest.raises(InputFileError, match=r"zscale\+asinh\+sigma_clip.*cutouts.normalisation"):
        load_trunk_weights(trunk, path, kind="ssl", expect_normalisation=other)


def test_unreadable_model_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(InputFileError, match="not a readable torch file"):
        load_backbone(tmp_path / "junk.pt")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(InputFileError, match="not a skysift SSL model file"):
        load_backbone(tmp_path / "plain.pt")
    with pytest.raises(InputFileError, match="not found"):
        load_backbone(tmp_path / "absent.pt")


@pytest.mark.parametrize("method_name", ["byol", "dino"])
def test_killed_pretraining_resumes_to_the_same_weights(
    method_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """4 steps unbroken == 2 steps, a kill, then a resume from last.pt (momentum teacher incl.)."""
    import skysift.ssl.pretrain as engine

    torch.set_num_threads(1)
    config = SSLConfig(
        image_pix=16, normalisation=SPEC3, seed=4,
        views={"local_crops": 1, "local_image_pix": 8},
        pretrain={"max_steps": 4, "batch_size": 4, "hidden_dim": 32, "projection_dim": 16,
                  "dino_output_dim": 32, "checkpoint_every": 2, "warmup_steps": 1},
    )  # fmt: skip
    images = tiny_images()
    data = CutoutSet(
        images, np.full(16, -1), np.zeros(16), [f"i{k}" for k in range(16)], [], "random"
    )
    pretrain(config, method_name, data, tmp_path / "unbroken")

    original = engine.train_steps

    def killed_after_first_checkpoint(*args: object, **kwargs: object) -> object:
        save = kwargs["on_checkpoint"]

        def save_then_die(done: int, *rest: object) -> None:
            save(done, *rest)  # type: ignore[operator]
            raise KeyboardInterrupt

        return original(*args, **{**kwargs, "on_checkpoint": save_then_die})  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "train_steps", killed_after_first_checkpoint)
    broken = tmp_path / "broken"
    with pytest.raises(KeyboardInterrupt):
        pretrain(config, method_name, data, broken)
    assert (broken / "last.pt").is_file() and not (broken / "backbone.pt").exists()
    monkeypatch.setattr(engine, "train_steps", original)
    summary = pretrain(config, method_name, data, broken)
    assert summary["resumed_at_step"] == 2 and summary["steps"] == 4
    a = read_model_file(tmp_path / "unbroken" / "backbone.pt")["state_dict"]
    b = read_model_file(broken / "backbone.pt")["state_dict"]
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    log = (broken / "train_log.csv").read_text().splitlines()
    assert len(log) == 5  # header + steps 0..3, the first two from the checkpoint

    downstream = config.model_copy(deep=True)
    downstream.finetune.max_steps = 7  # not a pretraining setting: resumes (at the end, 0 steps)
    assert pretrain(downstream, method_name, data, broken)["resumed_at_step"] == 4
    longer = config.model_copy(deep=True)
    longer.pretrain.max_steps = 6  # more steps: resumable (the schedule is then a new one)
    assert pretrain(longer, method_name, data, broken)["steps"] == 6
    # another run (other pretraining settings, or other images): starts afresh, replacing last.pt
    with caplog.at_level("WARNING", logger="skysift.io.resume"):
        summary = pretrain(config.model_copy(update={"seed": 5}), method_name, data, broken)
    assert "other settings (seed)" in caplog.text
    assert summary["resumed_at_step"] == 0 and summary["steps"] == 4
    caplog.clear()
    flipped = dataclasses.replace(data, images=np.ascontiguousarray(images[:, ::-1]))
    with caplog.at_level("WARNING", logger="skysift.io.resume"):
        summary = pretrain(config.model_copy(update={"seed": 5}), method_name, flipped, broken)
    assert "other training data" in caplog.text and summary["resumed_at_step"] == 0
