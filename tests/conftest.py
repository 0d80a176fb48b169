"""Shared pytest fixtures: where the real third-party data lives, small maps made here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

#: The venv's snakemake, beside the python running the tests.
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout, or ``$SKYSIFT_SHARED_DATA``."""
    env = os.environ.get("SKYSIFT_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real third-party data (never committed); tests that need it skip when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real data folder {path} is absent (set SKYSIFT_SHARED_DATA to its location)")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """Root of the skysift checkout."""
    return REPO_ROOT


#: Thread counts of the tiny workflow's multi-threaded rules, the same in every run of it (float
#: reductions depend on them, and the Slurm test compares its products with the local run's).
TINY_WORKFLOW_THREADS = (
    "--set-threads",
    "train_detector=2",
    "predict_cutouts=2",
    "train_diffusion=2",
    "sample_diffusion=2",
)


def snakemake_env() -> dict[str, str]:
    """The environment of a workflow run: the venv's commands first, a headless plotting backend."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    return env


def run_tiny_workflow(*args: str, timeout: int = 1500) -> subprocess.CompletedProcess[str]:
    """Snakemake on ``tests/workflow/config.yaml`` with ``args`` (results_dir etc.)."""
    return subprocess.run(
        [
            SNAKEMAKE,
            "--configfile",
            "tests/workflow/config.yaml",
            "--nolock",
            *TINY_WORKFLOW_THREADS,
            *args,
        ],
        cwd=REPO_ROOT,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def tiny_workflow_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results_dir of ONE local run of the tiny workflow (2 cores), shared by the tests that
    check it end to end and that compare a Slurm run with it. Tests only read it."""
    results = tmp_path_factory.mktemp("tiny-workflow") / "results"
    result = run_tiny_workflow("--cores", "2", "--config", f"results_dir={results}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    return results


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the real-Slurm tests last.

    Starting the test Slurm writes /etc/slurm/slurm.conf; from then on, while no slurmctld runs,
    every `snakemake` start waits ~9 s, because the Slurm executor plugin runs `scontrol show
    config` when it is loaded and scontrol waits for the absent controller. On a clean machine
    (CI) the other workflow tests run before that file exists.
    """
    items.sort(key=lambda item: item.get_closest_marker("slurm") is not None)
