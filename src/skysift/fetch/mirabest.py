"""MiraBest (Porter & Scaife 2023) into the cache: download, safe extraction, sha256 check.

The archive holds CIFAR-style pickled batches in one folder (``F_batches/`` in
``MiraBest_F_batches.tar.gz``): ``data_batch_1..7`` (1099 training images), ``test_batch``
(157) and ``batches.meta``. They land in ``<cache>/mirabest/batches/`` only when every one of
them matches the sha256 we ship; otherwise nothing is left under that name. Reading the
batches is not done here (see the SSL datasets).
"""

from __future__ import annotations

import logging
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from skysift.errors import InputFileError
from skysift.fetch.cache import Manifest, known_checksums, sha256_file, verify_sha256
from skysift.fetch.config import FetchConfig
from skysift.fetch.http import DownloadError, download
from skysift.io.atomic import atomic_dir

log = logging.getLogger(__name__)

#: Folder under ``<cache>/mirabest`` that receives the batches.
BATCH_DIR = "batches"

#: The batch files, in reading order.
BATCH_FILES = (
    *(f"data_batch_{i}" for i in range(1, 8)),
    "test_batch",
    "batches.meta",
)


def expected_sha256() -> dict[str, str]:
    """Known sha256 of each MiraBest batch file."""
    files: dict[str, str] = known_checksums()["mirabest"]["files"]
    return files


def _member_name(member: tarfile.TarInfo, archive: Path) -> str | None:
    """Base name of a wanted member, or None to skip it; raise on unsafe members."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or member.name.startswith(("/", "\\")):
        raise InputFileError(
            archive, f"unsafe member path '{member.name}' in the archive; refusing to extract"
        )
    if member.issym() or member.islnk() or member.isdev() or member.isfifo():
        if path.name in BATCH_FILES:
            raise InputFileError(
                archive, f"member '{member.name}' is a link or device, not a file; refusing it"
            )
        return None
    if not member.isfile() or path.name not in BATCH_FILES or len(path.parts) > 2:
        return None
    return path.name


def extract_batches(archive: str | Path, dest: str | Path) -> dict[str, str]:
    """Extract and verify the MiraBest batch files of ``archive`` into ``dest``.

    Only regular files named like the batches, at most one folder deep, are written (by
    reading them from the archive, never with ``extractall``); absolute or ``..`` member paths
    and links are refused.

    Returns
    -------
    dict
        File name -> sha256.

    Raises
    ------
    InputFileError
        Unreadable or unsafe archive, a batch missing or duplicated.
    ChecksumError
        A batch whose sha256 differs from the known one (the error names the file).
    """
    archive, dest = Path(archive), Path(dest)
    expected = expected_sha256()
    found: dict[str, str] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = _member_name(member, archive)
                if name is None:
                    continue
                if name in found:
                    raise InputFileError(archive, f"'{name}' appears twice in the archive")
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, (dest / name).open("wb") as out:
                    shutil.copyfileobj(source, out)
                found[name] = verify_sha256(
                    dest / name,
                    expected[name],
                    hint="delete the download and rerun `skysift fetch-data mirabest --force`",
                )
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError):
            raise
        raise InputFileError(archive, f"not a readable .tar.gz archive ({exc})") from exc
    missing = [name for name in BATCH_FILES if name not in found]
    if missing:
        raise InputFileError(
            archive, f"archive lacks {', '.join(missing)} (not the MiraBest batches?)"
        )
    return found


def mirabest_cached(folder: Path) -> bool:
    """Whether ``folder`` holds every batch with the known sha256."""
    expected = expected_sha256()
    for name in BATCH_FILES:
        path = folder / name
        if not path.is_file() or sha256_file(path) != expected[name]:
            return False
    return True


def fetch_mirabest(*, config: FetchConfig, force: bool = False) -> Path:
    """Download MiraBest into ``<cache>/mirabest/batches`` (verified), unless already there.

    Parameters
    ----------
    config
        Fetch settings; ``mirabest_urls`` are tried in order.
    force
        Download and extract again even if a verified copy is cached.

    Returns
    -------
    Path
        The folder with the batch files.
    """
    root = config.cache_path() / "mirabest"
    final = root / BATCH_DIR
    if not force and mirabest_cached(final):
        log.info("cached: %s (all %d batch files verified)", final, len(BATCH_FILES))
        return final
    download_dir = root / ".download"
    errors: list[DownloadError] = []
    try:
        for url in config.mirabest_urls:
            archive = download_dir / "MiraBest_batches.tar.gz"
            try:
                result = download(
                    url,
                    archive,
                    timeout_s=config.timeout_s,
                    retries=config.retries,
                    retry_wait_s=config.retry_wait_s,
                    hint="set fetch.mirabest_urls to a reachable copy of the archive, or put the "
                    f"extracted batch files into {final} by hand",
                )
            except DownloadError as exc:
                errors.append(exc)
                if len(errors) < len(config.mirabest_urls):
                    log.warning("%s: %s; trying the next source", url, _first_clause(exc))
                continue
            log.info("downloaded %s (%d bytes), extracting", url, result.size)
            with atomic_dir(final, overwrite=True) as tmp:
                sums = extract_batches(archive, tmp)
            manifest = Manifest(root, "mirabest")
            manifest.files = {}
            for name, digest in sums.items():
                manifest.record(
                    f"{BATCH_DIR}/{name}",
                    sha256=digest,
                    size=(final / name).stat().st_size,
                    url=url,
                    archive_sha256=result.sha256,
                )
            manifest.save()
            log.info("MiraBest batches verified in %s", final)
            return final
    finally:
        if download_dir.exists():
            shutil.rmtree(download_dir)
    if len(errors) == 1:
        raise errors[0]
    tried = "; ".join(f"{e.url}: {_first_clause(e)}" for e in errors)
    raise DownloadError(
        "fetch.mirabest_urls",
        f"no MiraBest source answered ({tried}); set fetch.mirabest_urls to a reachable copy, "
        f"or put the extracted batch files into {final} by hand",
    )


def _first_clause(error: DownloadError) -> str:
    """The failure part of a download error, without its advice."""
    return error.problem.split(";")[0]
