"""Atomic outputs: write to a temporary name beside the target, rename when complete.

A stage that fails or is killed never leaves a half-written file under the final name, so
Snakemake (and users) can trust that an existing output is complete.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from skysift.errors import OutputExistsError


def _temporary_sibling(path: Path) -> Path:
    # Keep the suffix so that libraries which look at the extension (astropy, matplotlib)
    # still recognise the format of the temporary file.
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


@contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` when the block succeeds.

    Parameters
    ----------
    path
        Final file name. Its parent folder is created.
    overwrite
        If False and ``path`` exists, raise :class:`~skysift.errors.OutputExistsError`.

    Yields
    ------
    Path
        The temporary file name (same folder, same suffix).
    """
    final = Path(path)
    if final.exists() and not overwrite:
        raise OutputExistsError(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(final)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: nothing was written for {final}")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_dir(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder to fill; move it to ``path`` when the block succeeds.

    Parameters
    ----------
    path
        Final folder name.
    overwrite
        If True, an existing folder at ``path`` is replaced once the new one is complete;
        if False, an existing folder raises :class:`~skysift.errors.OutputExistsError`
        before any work is done.
    """
    final = Path(path)
    if final.exists() and not overwrite:
        raise OutputExistsError(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_csv_rows(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Rows of dicts as CSV, columns in first-seen order (a missing key: empty cell), atomically."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)
