"""Reading torch files (checkpoints, model files) with one-line errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skysift.errors import InputFileError


def load_torch_file(path: str | Path, *, what: str) -> Any:
    """``torch.load`` (CPU, weights only) of ``path``.

    Raises
    ------
    InputFileError
        ``<path>: <what> not found``, or that it is not a readable torch file (corrupt or
        truncated), with the first line of torch's reason.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"{what} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = f"not a readable torch file (corrupt or truncated?): {exc}"
        raise InputFileError(path, reason.splitlines()[0]) from exc
