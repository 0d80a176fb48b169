"""Shared pytest fixtures: where the real third-party data lives, small maps made here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


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
