"""HTTP downloads with a timeout, retries, streaming sha256 and no partial files.

Only the standard library (:mod:`urllib.request`) is used, so any ``http://`` or ``https://``
URL works, including a loopback server in the tests. A failed download raises
:class:`DownloadError`: one line naming the URL, what went wrong and what to do.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from skysift import __version__
from skysift.errors import InputFileError, SkysiftError
from skysift.io.atomic import atomic_path

log = logging.getLogger(__name__)

#: Bytes read per chunk while streaming a download.
CHUNK_BYTES = 1 << 16

#: HTTP statuses worth retrying (the server may answer later); other 4xx are final.
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class DownloadError(SkysiftError):
    """A URL could not be fetched.

    Parameters
    ----------
    url
        The URL that failed.
    problem
        What went wrong, including what the user can do about it.
    """

    def __init__(self, url: str, problem: str) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"{url}: {problem}")


@dataclass(frozen=True)
class Downloaded:
    """Result of :func:`download`.

    Attributes
    ----------
    path
        Final file.
    sha256
        Hex sha256 of its bytes.
    size
        Size in bytes.
    content_type
        The server's ``Content-Type`` header ('' if absent).
    """

    path: Path
    sha256: str
    size: int
    content_type: str


def _describe(exc: BaseException) -> tuple[str, bool]:
    """Short description of a network error and whether a retry may help."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}", exc.code in RETRY_STATUS
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            return "connection refused", True
        if isinstance(reason, socket.timeout | TimeoutError):
            return "timed out", True
        if isinstance(reason, socket.gaierror):
            return f"host not found ({reason.strerror})", False
        return f"network error ({reason})", True
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out", True
    if isinstance(exc, ConnectionError | http.client.HTTPException):
        return f"connection failed ({exc.__class__.__name__}: {exc})", True
    return f"{exc.__class__.__name__}: {exc}", False


def download(
    url: str,
    dest: str | Path,
    *,
    timeout_s: float = 60.0,
    retries: int = 2,
    retry_wait_s: float = 2.0,
    hint: str = "check the network, or point the fetch settings at a mirror",
    validate: Callable[[Path], None] | None = None,
    progress: bool = True,
) -> Downloaded:
    """Download ``url`` to ``dest`` atomically, hashing it on the way.

    Parameters
    ----------
    url
        ``http(s)://`` address.
    dest
        Final file name; written under a temporary name and renamed only when complete
        (and, if given, validated).
    timeout_s
        Socket timeout per request in seconds.
    retries
        Extra attempts after a timeout, a refused connection or a 5xx/429 answer.
    retry_wait_s
        Wait before the first retry in seconds; doubles on each further retry.
    hint
        What the user can do, appended to the error message.
    validate
        Called with the temporary file once complete; raise to reject it (nothing is kept).
        An :class:`~skysift.errors.InputFileError` it raises is re-raised naming ``dest``.
    progress
        Show a tqdm bar on an interactive terminal.

    Raises
    ------
    DownloadError
        Naming the URL, the failure and ``hint``, after the last attempt.
    """
    dest = Path(dest)
    attempts = retries + 1
    last = "unknown error"
    for attempt in range(1, attempts + 1):
        try:
            return _download_once(
                url, dest, timeout_s=timeout_s, validate=validate, progress=progress
            )
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
                raise
            last, retryable = _describe(exc)
            if not retryable or attempt == attempts:
                break
            wait = retry_wait_s * 2 ** (attempt - 1)
            log.warning("%s: %s; retry %d/%d in %.1f s", url, last, attempt, retries, wait)
            time.sleep(wait)
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    raise DownloadError(url, f"{last}{tries}; {hint}")


def _download_once(
    url: str,
    dest: Path,
    *,
    timeout_s: float,
    validate: Callable[[Path], None] | None,
    progress: bool,
) -> Downloaded:
    request = urllib.request.Request(url, headers={"User-Agent": f"skysift/{__version__}"})
    digest = hashlib.sha256()
    size = 0
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        content_type = response.headers.get("Content-Type", "") or ""
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with (
            atomic_path(dest) as tmp,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                disable=None if progress else True,
                leave=False,
            ) as bar,
        ):
            with tmp.open("wb") as out:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
            if total is not None and size != total:
                raise ConnectionError(f"short read: {size} of {total} bytes")
            if validate is not None:
                try:
                    validate(tmp)
                except InputFileError as exc:
                    # name the final file, not the temporary one that is about to vanish
                    raise InputFileError(dest, f"{exc.problem}; the download was not kept") from exc
    log.debug("downloaded %s -> %s (%d bytes)", url, dest, size)
    return Downloaded(path=dest, sha256=digest.hexdigest(), size=size, content_type=content_type)
