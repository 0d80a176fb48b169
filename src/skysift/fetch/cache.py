"""The local download cache: one folder and one ``manifest.json`` per dataset.

Layout::

    <cache>/<dataset>/manifest.json      what was fetched: sha256, size, URL, parameters, time
    <cache>/<dataset>/<files...>         the data

A file counts as cached only when it exists, its sha256 equals the manifest's (and the known
checksum, where we ship one), and it was fetched with the same parameters. Anything else is
downloaded again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"


class ChecksumError(InputFileError):
    """A file's sha256 differs from the one we expect."""

    def __init__(self, path: str | Path, actual: str, expected: str, *, hint: str = "") -> None:
        self.actual = actual
        self.expected = expected
        tail = f"; {hint}" if hint else ""
        super().__init__(
            path,
            f"sha256 {actual[:16]}... differs from the expected {expected[:16]}... "
            f"(corrupt download or changed upstream file){tail}",
        )


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str, *, hint: str = "") -> str:
    """Check a file against a known sha256; return the digest or raise :class:`ChecksumError`."""
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(path, actual, expected, hint=hint)
    return actual


@cache
def known_checksums() -> dict[str, Any]:
    """The checksums we ship (``skysift/resources/checksums.json``), by dataset."""
    text = resources.files("skysift").joinpath("resources/checksums.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def utc_now() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class Manifest:
    """The record of one dataset folder in the cache.

    Parameters
    ----------
    folder
        ``<cache>/<dataset>``; created on :meth:`save`.
    dataset
        Dataset name, stored in the file.
    """

    def __init__(self, folder: str | Path, dataset: str) -> None:
        self.folder = Path(folder)
        self.dataset = dataset
        self.path = self.folder / MANIFEST_NAME
        self.files: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                content = json.loads(self.path.read_text())
                self.files = dict(content.get("files", {}))
            except (json.JSONDecodeError, AttributeError):
                log.warning("%s: unreadable manifest, everything will be fetched again", self.path)
                self.files = {}

    def record(self, relpath: str, *, sha256: str, size: int, url: str, **extra: Any) -> None:
        """Remember a fetched file (call :meth:`save` to write)."""
        self.files[relpath] = {
            "sha256": sha256,
            "size": size,
            "url": url,
            "fetched_utc": utc_now(),
            **extra,
        }

    def forget(self, relpath: str) -> None:
        """Drop a file from the record."""
        self.files.pop(relpath, None)

    def is_cached(
        self,
        relpath: str,
        *,
        expected_sha256: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> bool:
        """Whether ``relpath`` is present, intact and was fetched with ``params``.

        Parameters
        ----------
        relpath
            Path relative to the dataset folder.
        expected_sha256
            Known checksum that the file must also match.
        params
            Query parameters stored with the entry (e.g. cutout size); must compare equal.
        """
        entry = self.files.get(relpath)
        target = self.folder / relpath
        if entry is None or not target.is_file():
            return False
        if params is not None and entry.get("params") != params:
            return False
        actual = sha256_file(target)
        if actual != entry.get("sha256") or (expected_sha256 and actual != expected_sha256):
            log.warning("%s: checksum changed since download; fetching again", target)
            return False
        return True

    def save(self) -> Path:
        """Write the manifest atomically (sorted, indented JSON)."""
        payload = {"dataset": self.dataset, "files": dict(sorted(self.files.items()))}
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
        return self.path
