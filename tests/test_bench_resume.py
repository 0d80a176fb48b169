"""The benchmarks' resumable stages (benchmarks/detector_arms.py: reuse_or_run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def arms(monkeypatch: pytest.MonkeyPatch):
    """detector_arms with ``stage`` replaced by a recorder that writes the stage's output."""
    spec = importlib.util.spec_from_file_location("detector_arms", BENCHMARKS / "detector_arms.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "detector_arms", module)
    spec.loader.exec_module(module)
    calls: list[tuple[str, ...]] = []

    def fake_stage(work: Path, *args: str) -> dict[str, float]:
        calls.append(args)
        out = Path(args[args.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "done.json").write_text("{}")
        return {"wall_s": 12.5, "peak_rss_mib": 300.0}

    monkeypatch.setattr(module, "stage", fake_stage)
    module.calls = calls
    return module


def test_a_finished_stage_is_reused_with_its_recorded_cost(arms, tmp_path: Path) -> None:
    out = tmp_path / "ddpm"
    args = ("train-diffusion", "--out", str(out), "--settings", '{"max_steps": 4}')
    first = arms.reuse_or_run(tmp_path, out, out / "done.json", *args)
    second = arms.reuse_or_run(tmp_path, out, out / "done.json", *args)
    assert len(arms.calls) == 1
    assert first == second == {"wall_s": 12.5, "peak_rss_mib": 300.0}


def test_an_unfinished_stage_runs_again(arms, tmp_path: Path) -> None:
    out = tmp_path / "det"
    args = ("train-detector", "--out", str(out))
    arms.reuse_or_run(tmp_path, out, out / "evaluation" / "metrics.json", *args)
    arms.reuse_or_run(tmp_path, out, out / "evaluation" / "metrics.json", *args)
    assert len(arms.calls) == 2


def test_an_output_of_another_command_is_an_error(arms, tmp_path: Path) -> None:
    out = tmp_path / "ddpm"
    arms.reuse_or_run(tmp_path, out, out / "done.json", "train-diffusion", "--out", str(out))
    with pytest.raises(SystemExit, match="ddpm: made by another command"):
        arms.reuse_or_run(
            tmp_path, out, out / "done.json", "train-diffusion", "--out", str(out), "--seed", "1"
        )
    assert len(arms.calls) == 1


def test_a_finished_output_without_a_record_has_an_unknown_cost(arms, tmp_path: Path) -> None:
    out = tmp_path / "syn"
    out.mkdir()
    (out / "done.json").write_text("{}")
    cost = arms.reuse_or_run(
        tmp_path, out, out / "done.json", "sample-diffusion", "--out", str(out)
    )
    assert cost == {"wall_s": None, "peak_rss_mib": None}
    assert arms.calls == []
