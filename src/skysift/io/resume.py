"""Whether a saved training state (``last.pt``) belongs to the run being started.

A trainer resumes from ``last.pt`` only when it holds the same run: the same settings (except
those that may change between a run and its continuation, such as ``max_steps``) and the same
training data, recognised by the sha256 of its files. Anything else is a new run: the trainer
starts afresh and says why, instead of mixing two models (settings changed) or continuing a model
of data that no longer exists (the workflow rebuilt the training set). So a killed run started
again with the same command continues, and a workflow rerun after a change trains anew.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from skysift.io.torchfile import load_torch_file

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def files_sha256(paths: Iterable[str | Path]) -> str:
    """sha256 over the names and bytes of ``paths`` (in the order given); missing files count
    as absent, so adding or removing one changes the digest."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        digest.update(path.name.encode() + b"\0")
        if not path.is_file():
            digest.update(b"<absent>\0")
            continue
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def array_sha256(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and values (no copy when it is contiguous)."""
    values = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{values.dtype.str}{values.shape}".encode())
    digest.update(values.data.cast("B"))
    return digest.hexdigest()


def changed_settings(
    saved: Mapping[str, Any], now: Mapping[str, Any], *, may_change: Collection[str] = ()
) -> list[str]:
    """Names of the settings (top-level keys) that differ, except those in ``may_change``."""
    keys = sorted(set(saved) | set(now))
    return [k for k in keys if k not in may_change and saved.get(k) != now.get(k)]


def why_not_resumable(
    saved_settings: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    saved_data_sha256: str | None,
    data_sha256: str,
    may_change: Collection[str] = (),
) -> str | None:
    """Why a saved state is another run (None: it is this run and may be continued)."""
    changed = changed_settings(saved_settings, settings, may_change=may_change)
    if changed:
        return "made with other settings (" + ", ".join(changed) + ")"
    if saved_data_sha256 is None:
        return "made by an older skysift that did not record its training data"
    if saved_data_sha256 != data_sha256:
        return "made from other training data (its files have changed)"
    return None


def continues_same_run(
    path: Path,
    state: Mapping[str, Any],
    *,
    saved_settings: Mapping[str, Any],
    settings: Mapping[str, Any],
    data_sha256: str,
    max_steps: int,
    may_change: Collection[str] = (),
) -> bool:
    """True when ``state`` (read from ``path``; its ``step`` and ``data_sha256``, as every
    trainer saves them) may be continued; otherwise log why (a fresh run will replace it) and
    return False. A state beyond ``max_steps`` is another, shorter run."""
    reason = why_not_resumable(
        saved_settings,
        settings,
        saved_data_sha256=state.get("data_sha256"),
        data_sha256=data_sha256,
        may_change=may_change,
    )
    saved_step = int(state["step"])
    if reason is None and saved_step > max_steps:
        reason = f"already at step {saved_step}, beyond max_steps {max_steps}"
    if reason is not None:
        log.warning("%s was %s: not resumed, training starts afresh and replaces it", path, reason)
    return reason is None


def read_training_state(path: Path) -> dict[str, Any] | None:
    """The ``torch.load``-ed full training state in ``path`` (None when there is none)."""
    if not path.is_file():
        return None
    state: dict[str, Any] = load_torch_file(path, what="training state")
    return state
