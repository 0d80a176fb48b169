"""predict-map under MPI: 1, 2 and 3 ranks give byte-identical outputs; a failing rank aborts.

Runs ``mpiexec -n N`` as subprocesses (with a timeout) of the venv's MPICH; skipped when mpi4py
or mpiexec is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from skysift import cli
from skysift.detect.config import DetectorConfig
from skysift.detect.engine import train
from skysift.detect.toy import make_toy_dataset
from skysift.predict.config import PredictConfig
from skysift.predict.pipeline import OUTPUT_FILES, predict_map
from skysift.predict.toy import Component, ThresholdPredictor, write_toy_map

pytest.importorskip("mpi4py")
MPIEXEC = Path(sys.executable).parent / "mpiexec"
pytestmark = pytest.mark.skipif(not MPIEXEC.exists(), reason="no mpiexec beside the python")

COMPARED = ("catalogue", "catalogue_csv", "segmentation", "regions")
SHAPE = (150, 170)
SOURCES = [
    Component(64, 64, 0.05, 2.5, 2.5),
    Component(120, 40, 0.02, 9.0, 5.0),
    Component(30, 110, 0.01),
    Component(48, 110, 0.01),
    Component(150, 130, 0.02),
]

FAKE_SCRIPT = """
import logging, sys, time
from skysift.predict.config import PredictConfig
from skysift.predict.pipeline import predict_map
from skysift.predict.sharding import abort_on_error, rank_of, world_comm
from skysift.predict.toy import ThresholdPredictor

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
comm = world_comm()
fail_rank = int(sys.argv[3])

class Predictor(ThresholdPredictor):
    def __call__(self, tiles):
        if rank_of(comm) == fail_rank:
            raise RuntimeError("injected failure in the model")
        if fail_rank >= 0:  # the other ranks slow down, so the failing rank surely gets a batch
            time.sleep(0.2)
        return super().__call__(tiles)

if comm is not None:  # every rank has imported everything before the batches are handed out
    comm.Barrier()
with abort_on_error(comm):
    predict_map(sys.argv[1], sys.argv[2], predictor=Predictor(size_pix=48, threshold=1e-3),
                config=PredictConfig(overlap_pix=20, batch_size=2), comm=comm, progress=False)
"""

CLI_SCRIPT = """
import sys
from skysift import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _mpiexec(
    n: int, script: Path, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MPIEXEC), "-n", str(n), sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
    )


def _same_outputs(a: Path, b: Path) -> None:
    for key in COMPARED:
        name = OUTPUT_FILES[key]
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def toy_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_map(
        tmp_path_factory.mktemp("map") / "map.fits", SHAPE, SOURCES, blank=[(120, 150, 0, 60)]
    )


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scripts")
    (folder / "fake.py").write_text(textwrap.dedent(FAKE_SCRIPT))
    (folder / "cli.py").write_text(textwrap.dedent(CLI_SCRIPT))
    return {"fake": folder / "fake.py", "cli": folder / "cli.py"}


@pytest.fixture(scope="module")
def serial(toy_map: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serial") / "out"
    predict_map(
        toy_map,
        out,
        predictor=ThresholdPredictor(size_pix=48, threshold=1e-3),
        config=PredictConfig(overlap_pix=20, batch_size=2),
        progress=False,
    )
    return out


@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_give_byte_identical_catalogues(
    ranks: int, toy_map: Path, scripts: dict[str, Path], serial: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = _mpiexec(ranks, scripts["fake"], str(toy_map), str(out), "-1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"on {ranks} rank(s)" in result.stderr
    _same_outputs(serial, out)
    assert "objects" in (out / "summary.json").read_text()


def test_a_failing_rank_ends_the_run_with_a_clear_error(
    toy_map: Path, scripts: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = _mpiexec(3, scripts["fake"], str(toy_map), str(out), "1", timeout=60)
    assert result.returncode != 0
    assert "rank 1 failed on batch" in result.stderr, (result.stdout, result.stderr)
    assert "injected failure in the model" in result.stderr
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == []


# --- a real (tiny, briefly trained) detector ------------------------------------------------

TINY = {
    "backbone": "resnet18_fpn",
    "fpn_channels": 16,
    "mask_head_channels": 8,
    "mask_head_layers": 1,
    "box_head_dim": 32,
    "rpn_pre_nms_top_n_test": 50,
    "rpn_post_nms_top_n_test": 30,
    "box_detections_per_img": 10,
    "box_score_thresh": 0.0,
    "score_threshold": 0.0,
    "warmup_steps": 1,
    "max_steps": 2,
    "checkpoint_every": 2,
    "eval_every": 2,
    "amp": False,
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    threads = torch.get_num_threads()
    root = make_toy_dataset(tmp_path_factory.mktemp("toy"), size=48, images_per_split=(2, 1, 1))
    out = tmp_path_factory.mktemp("model")
    train(DetectorConfig(**TINY), root, out, resume=False, progress=False)
    torch.set_num_threads(threads)
    return out / "model.pt"


def test_real_model_serial_and_two_ranks_agree(
    toy_map: Path,
    tiny_model: Path,
    scripts: dict[str, Path],
    tmp_path: Path,
) -> None:
    args = ["--model", str(tiny_model), "--overlap", "16", "--batch-size", "2", "-q"]
    threads = torch.get_num_threads()
    try:
        code = cli.main(["predict-map", str(toy_map), "--out", str(tmp_path / "one"), *args])
    finally:
        torch.set_num_threads(threads)  # the stage sets 1 thread per process
    assert code == 0
    result = _mpiexec(
        2, scripts["cli"], "predict-map", str(toy_map), "--out", str(tmp_path / "two"), *args
    )
    assert result.returncode == 0, result.stderr[-2000:]
    _same_outputs(tmp_path / "one", tmp_path / "two")
    summary = (tmp_path / "two" / "summary.json").read_text()
    assert '"ranks": 2' in summary and '"tiles_blank": 0' in summary
    assert '"precision": "' in summary  # the one used, after resolving auto


def test_speed_options_reach_the_model(tiny_model: Path, toy_map: Path) -> None:
    from skysift.predict.lazymap import open_map
    from skysift.predict.pipeline import load_predictor
    from skysift.predict.tiling import make_tiles

    config = PredictConfig(max_proposals=3, precision="bfloat16")
    predictor = load_predictor(tiny_model, config)
    assert predictor.model.rpn.post_nms_top_n() == 3  # eval mode: the "testing" value
    lazy = open_map(toy_map)
    windows = make_tiles(lazy.shape, size=48, overlap=16)[:4]
    tiles = [lazy.window(t.y0, t.y1, t.x0, t.x1) for t in windows]
    lazy.close()
    detections = predictor(tiles)
    n_classes = len(predictor.classes)
    assert len(detections) == 4
    for d in detections:  # at most one box per class for each of the 3 proposals
        assert len(d.labels) <= 3 * n_classes
        assert d.scores.dtype == np.float64 and d.masks.dtype == bool
        assert np.all((d.scores >= 0) & (d.scores <= 1))


def test_larger_tiles_reach_the_model_unresized_with_scaled_budgets(
    tiny_model: Path, toy_map: Path, tmp_path: Path
) -> None:
    from skysift.predict.pipeline import load_predictor

    base = load_predictor(tiny_model, PredictConfig())
    rpn, heads = base.model.rpn, base.model.roi_heads
    pre, post, per_image = rpn.pre_nms_top_n(), rpn.post_nms_top_n(), heads.detections_per_img
    big = load_predictor(tiny_model, PredictConfig(tile_pix=96))  # 2x the 48-px cutouts
    assert big.size_pix == 96 and base.size_pix == 48
    assert big.model.rpn.pre_nms_top_n() == 4 * pre and big.model.rpn.post_nms_top_n() == 4 * post
    assert big.model.roi_heads.detections_per_img == 4 * per_image
    capped = load_predictor(tiny_model, PredictConfig(tile_pix=96, max_proposals=5))
    assert capped.model.rpn.post_nms_top_n() == 20  # max_proposals is per 48-px cutout area
    roomy = load_predictor(tiny_model, PredictConfig(max_proposals=1000))
    assert roomy.model.rpn.post_nms_top_n() == post  # a cap: never above the model's own
    with torch.inference_mode():  # the tile goes in at its own size, not resized to 48 px
        images, _ = big.model.transform([torch.zeros(1, 96, 96)])
    assert images.image_sizes == [(96, 96)]
    threads = torch.get_num_threads()
    try:
        args = ["--model", str(tiny_model), "--tile", "96", "--overlap", "16", "-q"]
        code = cli.main(["predict-map", str(toy_map), "--out", str(tmp_path / "t96"), *args])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    assert '"tile_size_pix": 96' in (tmp_path / "t96" / "summary.json").read_text()


def test_auto_precision_follows_the_hardware(tmp_path: Path) -> None:
    import torch

    from skysift.predict.inference import resolve_precision

    with_bf16 = tmp_path / "bf16"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    without = tmp_path / "plain"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    cpu = torch.device("cpu")
    plain: dict[str, str] = {}
    assert resolve_precision("auto", cpu, with_bf16, plain) == "bfloat16"
    assert resolve_precision("auto", cpu, without, plain) == "float32"
    assert resolve_precision("auto", cpu, tmp_path / "absent", plain) == "float32"  # not Linux
    assert resolve_precision("float32", cpu, with_bf16, plain) == "float32"  # explicit wins
    assert resolve_precision("bfloat16", cpu, without, plain) == "bfloat16"
    # oneDNN capped below its bfloat16 instructions (README: the AVX2 reproduction): float32
    for capped in ("AVX2", "avx512_core_vnni", "AVX512_CORE"):
        for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
            assert resolve_precision("auto", cpu, with_bf16, {name: capped}) == "float32"
    for allowed in ("AVX512_CORE_BF16", "AVX512_CORE_AMX", "AVX10_1_512", "ALL", "DEFAULT", ""):
        env = {"ONEDNN_MAX_CPU_ISA": allowed}
        assert resolve_precision("auto", cpu, with_bf16, env) == "bfloat16"
    assert resolve_precision("bfloat16", cpu, with_bf16, {"ONEDNN_MAX_CPU_ISA": "AVX2"}) == (
        "bfloat16"
    )  # explicit still wins
