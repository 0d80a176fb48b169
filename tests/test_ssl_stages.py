"""Stages ssl-dataset -> ssl-pretrain -> embed / classify through the CLI, and their errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.io import fits
from torch import nn

from skysift.cli import main as cli_main
from skysift.ssl.checkpoint import load_backbone, save_classifier

SETTINGS = json.dumps(
    {
        "cutout_pix": 32,
        "image_pix": 16,
        "normalisation": {"channels": [{"method": "zscale"}, {"method": "asinh"}]},
        "views": {"local_image_pix": 8},
        "pretrain": {"max_steps": 2, "batch_size": 4, "hidden_dim": 32, "projection_dim": 16},
        "device": "cpu",
    }
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight FITS cutouts (40 x 40 Jy/beam) with a source each."""
    out = tmp_path_factory.mktemp("user") / "images"
    out.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:40, :40]
    for i in range(8):
        data = rng.normal(0, 1e-4, (40, 40)) + 2e-3 * np.exp(
            -((yy - 20) ** 2 + (xx - 15 - i) ** 2) / 6
        )
        fits.PrimaryHDU(data.astype(np.float32)).writeto(out / f"c{i}.fits")
    return out


@pytest.fixture(scope="module")
def backbone_file(folder: Path) -> Path:
    """ssl-dataset folder -> ssl-pretrain (DINO, 2 steps) through the CLI."""
    torch.set_num_threads(1)
    work = folder.parent
    args = ["ssl-dataset", "folder", "--images", str(folder), "--out", str(work / "set")]
    assert cli_main([*args, "--settings", SETTINGS, "-q"]) == 0
    args = ["ssl-pretrain", "--dataset", str(work / "set"), "--method", "dino"]
    assert cli_main([*args, "--out", str(work / "dino"), "--settings", SETTINGS, "-q"]) == 0
    return work / "dino" / "backbone.pt"


def test_embed_gives_features_with_ids(folder: Path, backbone_file: Path, tmp_path: Path) -> None:
    args = ["embed", str(folder), "--model", str(backbone_file)]
    assert cli_main([*args, "--out", str(tmp_path / "features"), "-q"]) == 0
    with np.load(tmp_path / "features.npz") as data:
        ids, features = data["ids"].tolist(), data["features"]
        meta = json.loads(str(data["model"]))
    assert ids == [f"c{i}" for i in range(8)] and features.shape == (8, 512)
    assert meta["method"] == "dino" and meta["in_channels"] == 2
    assert cli_main([*args, "--out", str(tmp_path / "features.csv"), "-q"]) == 0
    rows = list(csv.reader((tmp_path / "features.csv").open()))
    assert rows[0][:2] == ["id", "f0"] and len(rows) == 9 and len(rows[1]) == 513
    np.testing.assert_allclose(np.array(rows[1][1:], dtype=float), features[0], rtol=1e-5)
    # the ssl-dataset folder of the same images gives the same features
    set_dir = backbone_file.parent.parent / "set"
    assert cli_main(["embed", str(set_dir), "--model", str(backbone_file),
                     "--out", str(tmp_path / "again.npz"), "-q"]) == 0  # fmt: skip
    with np.load(tmp_path / "again.npz") as data:
        np.testing.assert_allclose(data["features"], features, rtol=1e-5, atol=1e-6)


def test_classify_writes_classes_and_probabilities(
    folder: Path, backbone_file: Path, tmp_path: Path
) -> None:
    backbone, meta = load_backbone(backbone_file)
    torch.manual_seed(0)
    head = nn.Linear(512, 2)
    save_classifier(tmp_path / "classifier.pt", backbone, head, meta, ["FRI", "FRII"])
    args = ["classify", str(folder), "--model", str(tmp_path / "classifier.pt")]
    assert cli_main([*args, "--out", str(tmp_path / "pred.csv"), "-q"]) == 0
    rows = list(csv.DictReader((tmp_path / "pred.csv").open()))
    assert [r["id"] for r in rows] == [f"c{i}" for i in range(8)]
    for row in rows:
        p = np.array([float(row["p_FRI"]), float(row["p_FRII"])])
        assert p.sum() == pytest.approx(1.0, abs=1e-4)
        assert row["class"] == ["FRI", "FRII"][int(p.argmax())]


def test_classify_refuses_a_backbone_and_embed_a_foreign_file(
    folder: Path, backbone_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "classify",
        str(folder),
        "--model",
        str(backbone_file),
        "--out",
        str(tmp_path / "p.csv"),
    ]
    assert cli_main(args) == 1
    assert "a backbone, not a classifier" in capsys.readouterr().err
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    args = [
        "embed",
        str(folder),
        "--model",
        str(tmp_path / "foreign.pt"),
        "--out",
        str(tmp_path / "f"),
    ]
    assert cli_main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a skysift SSL model file" in err[0]
