"""``skysift fetch-data``: offline, against a loopback HTTP server serving the shared real data.

The server listens on 127.0.0.1 only (port chosen by the OS), serves a temporary folder, and
can route a path to a function (for SkyView's ``runquery.pl``, error pages, slow answers).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import pickle
import socket
import sys
import tarfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from skysift.cli import main as cli_main
from skysift.errors import ConfigError, InputFileError
from skysift.fetch.cache import (
    ChecksumError,
    Manifest,
    known_checksums,
    sha256_file,
    verify_sha256,
)
from skysift.fetch.ck04 import DEFAULT_TEFF, array_sha256, build_grid, fetch_ck04, verify_grid
from skysift.fetch.config import FetchConfig, default_cache_dir
from skysift.fetch.http import DownloadError, download
from skysift.fetch.mirabest import BATCH_FILES, extract_batches, fetch_mirabest
from skysift.fetch.skyview import (
    SURVEYS,
    cutout_filename,
    fetch_cutouts,
    read_positions,
    skyview_query_url,
)
from skysift.settings import load_section

pytestmark = pytest.mark.shared_data

Route = Callable[[dict[str, list[str]]], tuple[int, bytes, str]]


# --------------------------------------------------------------------------- loopback server
class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        self.routes: dict[str, Route] = {}
        self.errors: list[str] = []
        handler = functools.partial(_Handler, directory=str(root))
        super().__init__(("127.0.0.1", 0), handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-body (it found a bad member and stopped) is normal here;
        # socketserver would print the traceback to the stderr the tests read.
        self.errors.append(repr(sys.exc_info()[1]))


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        parts = urllib.parse.urlsplit(self.path)
        route = self.server.routes.get(parts.path)
        if route is None:
            super().do_GET()
            return
        status, body, content_type = route(urllib.parse.parse_qs(parts.query))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Loopback:
    """A running loopback server: ``root`` is served, ``url(path)`` addresses it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = _Server(root)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def requests(self) -> list[str]:
        return self.server.requests

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/{path.lstrip('/')}"

    def route(self, path: str, handler: Route) -> None:
        self.server.routes[path] = handler


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[Loopback]:
    root = tmp_path / "served"
    root.mkdir()
    server = Loopback(root)
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(timeout=5)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _settings(cache: Path, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cache_dir": str(cache),
        "timeout_s": 5.0,
        "retries": 0,
        "retry_wait_s": 0.0,
    }
    base.update(values)
    return base


def _closed_port_url(path: str) -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/{path}"


def _no_partial_files(folder: Path) -> list[Path]:
    """Leftover temporary files/folders (names containing '.tmp-') under ``folder``."""
    return [p for p in folder.rglob("*") if ".tmp-" in p.name] if folder.exists() else []


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli_main(["fetch-data", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- SkyView cutouts
def _first_files(shared_data: Path) -> dict[tuple[float, float], Path]:
    """Shared FIRST cutouts keyed by their (RA, Dec) from the file name."""
    table = {}
    for path in sorted((shared_data / "first_cutouts").glob("*.fits")):
        coord = path.name.split("_")[1]
        sign = "+" if "+" in coord else "-"
        ra, dec = coord.split(sign)
        table[(float(ra), float(sign + dec))] = path
    return table


def _skyview_route(files: dict[tuple[float, float], Path]) -> Route:
    def answer(query: dict[str, list[str]]) -> tuple[int, bytes, str]:
        ra, dec = (float(v) for v in query["Position"][0].split(","))
        for (fra, fdec), path in files.items():
            if abs(fra - ra) < 1e-6 and abs(fdec - dec) < 1e-6:
                return 200, path.read_bytes(), "image/fits"
        page = b"<html><body><h1>Error</h1><p>No survey data at this position</p></body></html>"
        return 200, page, "text/html"

    return answer


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
def test_first_cutout_from_skyview_is_the_real_image(
    shared_data: Path, loopback: Loopback, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _first_files(shared_data)
    (ra, dec), source = next(iter(files.items()))
    loopback.route("/runquery.pl", _skyview_route(files))
    settings = json.dumps(_settings(cache, skyview_url=loopback.url("runquery.pl")))

    code, _, err = _run_cli(
        ["first", "--position", str(ra), str(dec), "--settings", settings, "-q"], capsys
    )
    assert code == 0, err

    # the query is SkyView's documented batch interface
    assert len(loopback.requests) == 1
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(loopback.requests[0]).query)
    assert query["Survey"] == ["VLA FIRST (1.4 GHz)"]
    assert query["Return"] == ["FITS"]
    assert query["Pixels"] == ["300"]
    assert float(query["Size"][0]) == pytest.approx(300 * 1.8 / 3600, rel=1e-9)  # 0.15 deg

    target = cache / "first" / cutout_filename(ra, dec)
    assert target.read_bytes() == source.read_bytes()
    manifest = json.loads((cache / "first" / "manifest.json").read_text())
    entry = manifest["files"][target.name]
    assert entry["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert entry["params"]["pixels"] == 300

    # ingestible: 300x300 Jy/beam image whose WCS centre is the requested position
    with fits.open(target) as hdul:
        data = hdul[0].data
        wcs = WCS(hdul[0].header).celestial
    assert data.shape == (300, 300)
    centre = wcs.pixel_to_world_values(149.5, 149.5)
    assert float(centre[0]) == pytest.approx(ra, abs=1e-6)
    assert float(centre[1]) == pytest.approx(dec, abs=1e-6)
    finite = data[np.isfinite(data)]
    rms = 1.4826 * np.median(np.abs(finite - np.median(finite)))
    assert 5e-5 < rms < 1e-3  # FIRST noise is ~0.15 mJy/beam
    assert finite.max() > 10 * rms  # the radio galaxy is there
    assert _no_partial_files(cache) == []


def test_cutouts_cached_then_forced(
    shared_data: Path, loopback: Loopback, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = _first_files(shared_data)
    positions = list(files)[:3]
    loopback.route("/runquery.pl", _skyview_route(files))
    config = FetchConfig(**_settings(cache, skyview_url=loopback.url("runquery.pl")))

    paths = fetch_cutouts(positions, survey="first", config=config)
    assert [p.read_bytes() for p in paths] == [files[pos].read_bytes() for pos in positions]
    assert len(loopback.requests) == 3

    with caplog.at_level(logging.INFO, logger="skysift"):
        again = fetch_cutouts(positions, survey="first", config=config)
    assert again == paths
    assert len(loopback.requests) == 3  # nothing downloaded
    assert sum("cached" in r.getMessage() for r in caplog.records) == 3

    # a different cutout size is a different request, not a cache hit
    fetch_cutouts(positions[:1], survey="first", config=config, size_arcmin=9.0 * 0.5)
    assert len(loopback.requests) == 4
    fetch_cutouts(positions[:1], survey="first", config=config, force=True)
    assert len(loopback.requests) == 5

    # a cached file that was altered on disk is fetched again
    paths[1].write_bytes(paths[1].read_bytes()[:-2880])
    fetch_cutouts(positions, survey="first", config=config, size_arcmin=None)
    assert len(loopback.requests) == 6  # only positions[1]
    assert paths[1].read_bytes() == files[positions[1]].read_bytes()


def test_positions_csv_and_nvss_query(
    shared_data: Path, loopback: Loopback, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _first_files(shared_data)
    positions = list(files)[3:5]
    csv_path = cache.parent / "positions.csv"
    csv_path.write_text(
        "name,RA,Dec\n" + "".join(f"s{i},{r},{d}\n" for i, (r, d) in enumerate(positions))
    )
    assert read_positions(csv_path) == positions
    loopback.route("/runquery.pl", _skyview_route(files))
    settings = json.dumps(_settings(cache, skyview_url=loopback.url("runquery.pl")))
    code, _, err = _run_cli(["first", "--positions", str(csv_path), "--settings", settings], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (cache / "first").glob("*.fits")) == sorted(
        cutout_filename(r, d) for r, d in positions
    )

    url = skyview_query_url(
        "https://x.test/runquery.pl", SURVEYS["nvss"], 10.5, -30.25, pixels=64, size_deg=0.2
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["Survey"] == ["NVSS"]
    assert query["Position"] == ["10.500000,-30.250000"]
    assert query["Size"] == ["0.2"]


def test_skyview_html_error_page_is_one_line_naming_the_position(
    shared_data: Path, loopback: Loopback, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback.route("/runquery.pl", _skyview_route(_first_files(shared_data)))
    settings = json.dumps(_settings(cache, skyview_url=loopback.url("runquery.pl")))
    code, _, err = _run_cli(
        ["first", "--position", "10.0", "-5.0", "--settings", settings, "-q"], capsys
    )
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "RA 10.00000 Dec -5.00000" in lines[0]
    assert "No survey data at this position" in lines[0]
    assert "<html>" not in lines[0]
    assert list(cache.rglob("*.fits")) == []
    assert _no_partial_files(cache) == []


def test_bad_positions_file_and_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.csv"
    bad.write_text("x,y\n1,2\n")
    with pytest.raises(InputFileError, match="needs 'ra' and 'dec' columns"):
        read_positions(bad)
    bad.write_text("ra,dec\n400,2\n")
    with pytest.raises(ConfigError, match=r"RA 400.0 deg is outside \[0, 360\)"):
        read_positions(bad)
    code, _, err = _run_cli(["first", "--cache-dir", str(tmp_path)], capsys)
    assert code == 1 and "--position" in err and "exactly one" in err
    code, _, err = _run_cli(
        ["mirabest", "--position", "1", "2", "--cache-dir", str(tmp_path)], capsys
    )
    assert code == 1 and "'--position'" in err and "does not apply" in err
    code, _, err = _run_cli(["ck04", "--teff", "5100", "--cache-dir", str(tmp_path)], capsys)
    assert code == 1 and "'--teff'" in err and "5100" in err


# --------------------------------------------------------------------------- network errors
def test_connection_refused_timeout_404_and_retry(loopback: Loopback, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(
        DownloadError, match=r"http://127\.0\.0\.1:\d+/x\.bin: connection refused; do X"
    ):
        download(_closed_port_url("x.bin"), dest, retries=0, hint="do X")
    with pytest.raises(DownloadError, match=r"/missing\.bin: HTTP 404 .*; do Y"):
        download(loopback.url("missing.bin"), dest, retries=3, retry_wait_s=0, hint="do Y")
    assert len(loopback.requests) == 1  # a 404 is final, not retried

    def slow(_: dict[str, list[str]]) -> tuple[int, bytes, str]:
        time.sleep(1.0)
        return 200, b"late", "application/octet-stream"

    loopback.route("/slow", slow)
    t0 = time.perf_counter()
    with pytest.raises(DownloadError, match=r"/slow: timed out after 2 attempts"):
        download(loopback.url("slow"), dest, timeout_s=0.2, retries=1, retry_wait_s=0)
    assert time.perf_counter() - t0 < 1.5
    assert not dest.exists() and _no_partial_files(tmp_path) == []

    answers = iter([(503, b"busy", "text/plain"), (200, b"payload", "application/octet-stream")])
    loopback.route("/flaky", lambda _: next(answers))
    result = download(loopback.url("flaky"), dest, retries=2, retry_wait_s=0)
    assert dest.read_bytes() == b"payload"
    assert result.sha256 == hashlib.sha256(b"payload").hexdigest() and result.size == 7


def test_network_error_through_cli_is_one_line(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _closed_port_url("runquery.pl")
    settings = json.dumps(_settings(cache, skyview_url=url))
    code, _, err = _run_cli(["nvss", "--position", "150", "2", "--settings", settings], capsys)
    assert code == 1
    line = err.strip().splitlines()[-1]
    assert line.startswith("skysift fetch-data: error: http://127.0.0.1:")
    assert "connection refused" in line and "fetch.skyview_url" in line
    assert list(cache.rglob("*.fits")) == []


# --------------------------------------------------------------------------- MiraBest
def _mirabest_tar(
    shared_data: Path, *, corrupt: str | None = None, extra: str | None = None
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name in BATCH_FILES:
            payload = (shared_data / "mirabest" / name).read_bytes()
            if name == corrupt:
                payload = payload[:1000] + bytes([payload[1000] ^ 0xFF]) + payload[1001:]
            info = tarfile.TarInfo(f"F_batches/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        if extra is not None:
            info = tarfile.TarInfo(extra)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    return buf.getvalue()


def _serve_mirabest(loopback: Loopback, payload: bytes) -> str:
    path = loopback.root / "records" / "4288837" / "files" / "MiraBest_F_batches.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return loopback.url("records/4288837/files/MiraBest_F_batches.tar.gz")


def test_mirabest_fetch_verify_cache_force(
    shared_data: Path, loopback: Loopback, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = _serve_mirabest(loopback, _mirabest_tar(shared_data))
    # the first source is down: the next one is used
    config = FetchConfig(**_settings(cache, mirabest_urls=[loopback.url("gone.tar.gz"), url]))
    folder = fetch_mirabest(config=config)
    assert folder == cache / "mirabest" / "batches"
    known = known_checksums()["mirabest"]["files"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(BATCH_FILES)
    for name in BATCH_FILES:
        assert sha256_file(folder / name) == known[name]
        assert (folder / name).read_bytes() == (shared_data / "mirabest" / name).read_bytes()
    assert not (cache / "mirabest" / ".download").exists()
    manifest = json.loads((cache / "mirabest" / "manifest.json").read_text())
    assert len(manifest["files"]) == 9 and manifest["files"]["batches/test_batch"]["url"] == url

    # the data are MiraBest: 1099 train + 157 test images of 150x150 uint8, labels 0..9
    n_train = 0
    for name in BATCH_FILES[:7]:
        with (folder / name).open("rb") as handle:
            n_train += len(pickle.load(handle, encoding="latin1")["labels"])
    with (folder / "test_batch").open("rb") as handle:
        test = pickle.load(handle, encoding="latin1")
    images = np.asarray(test["data"])
    assert (n_train, images.shape, images.dtype) == (1099, (157, 150, 150), np.uint8)
    assert set(test["labels"]) <= set(range(10))

    n_requests = len(loopback.requests)
    with caplog.at_level(logging.INFO, logger="skysift"):
        fetch_mirabest(config=config)
    assert len(loopback.requests) == n_requests
    assert any("cached" in r.getMessage() for r in caplog.records)
    fetch_mirabest(config=config, force=True)
    assert len(loopback.requests) == n_requests + 2  # 404 source, then the archive


def test_mirabest_corrupt_member_leaves_nothing(
    shared_data: Path, loopback: Loopback, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _serve_mirabest(loopback, _mirabest_tar(shared_data, corrupt="data_batch_3"))
    settings = json.dumps(_settings(cache, mirabest_urls=[url]))
    code, _, err = _run_cli(["mirabest", "--settings", settings, "-q"], capsys)
    assert code == 1
    line = err.strip()
    assert "\n" not in line
    assert "data_batch_3" in line and "sha256" in line
    assert not (cache / "mirabest" / "batches").exists()
    assert not (cache / "mirabest" / ".download").exists()
    assert _no_partial_files(cache) == []


@pytest.mark.parametrize("member", ["../escape.txt", "/abs/evil.txt"])
def test_mirabest_unsafe_archive_is_refused(shared_data: Path, tmp_path: Path, member: str) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_mirabest_tar(shared_data, extra=member))
    dest = tmp_path / "out" / "inner"
    dest.mkdir(parents=True)
    with pytest.raises(InputFileError, match="unsafe member path"):
        extract_batches(archive, dest)
    assert not (tmp_path / "out" / "escape.txt").exists()
    assert not Path("/abs/evil.txt").exists()


def test_checksum_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"not mirabest")
    manifest = Manifest(tmp_path, "x")
    assert not manifest.is_cached("data_batch_1")
    with pytest.raises(ChecksumError, match=r"data_batch_1: sha256 [0-9a-f]{16}\.\.\. differs"):
        verify_sha256(path, known_checksums()["mirabest"]["files"]["data_batch_1"])


# --------------------------------------------------------------------------- ck04
def _write_cdbs_tables(shared_npz: Path, models: Path, teff: list[int]) -> dict[str, np.ndarray]:
    """Write CDBS-layout ck04models tables from the shared npz (same float32 values)."""
    with np.load(shared_npz) as npz:
        grid = {key: npz[key] for key in npz.files}
    teff_all = list(grid["teff_k"])
    for iz, zdir in enumerate(("ckm10", "ckp00", "ckp02")):
        for t in teff:
            it = teff_all.index(t)
            columns = [
                fits.Column("WAVELENGTH", "E", unit="ANGSTROM", array=grid["wavelength_angstrom"])
            ]
            for ig in range(11):
                columns.append(
                    fits.Column(
                        f"g{5 * ig:02d}", "E", unit="FLAM", array=grid["flux_flam"][iz, it, ig]
                    )
                )
            primary = fits.PrimaryHDU()
            primary.header["TEFF"] = t
            primary.header["LOG_Z"] = float(grid["metallicity_mh"][iz])
            path = models / zdir / f"{zdir}_{t}.fits"
            path.parent.mkdir(parents=True, exist_ok=True)
            fits.HDUList([primary, fits.BinTableHDU.from_columns(columns)]).writeto(path)
    return grid


def test_ck04_rebuilds_the_shared_grid_exactly(
    shared_data: Path, loopback: Loopback, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teff = [5000, 6000, 20000]
    grid = _write_cdbs_tables(
        shared_data / "ck04" / "ck04_subset.npz", loopback.root / "ck04models", teff
    )
    settings = json.dumps(_settings(cache, ck04_url=loopback.url("ck04models")))
    code, _, err = _run_cli(
        ["ck04", "--teff", *map(str, teff), "--settings", settings, "-q"], capsys
    )
    assert code == 0, err
    assert len(loopback.requests) == 9  # 3 metallicities x 3 Teff

    idx = [list(grid["teff_k"]).index(t) for t in teff]
    with np.load(cache / "ck04" / "ck04_subset.npz") as built:
        assert sorted(built.files) == sorted(grid)
        np.testing.assert_array_equal(built["flux_flam"], grid["flux_flam"][:, idx])
        np.testing.assert_array_equal(built["present"], grid["present"][:, idx])
        for key in ("wavelength_angstrom", "logg_cgs", "metallicity_mh"):
            np.testing.assert_array_equal(built[key], grid[key])
            assert built[key].dtype == grid[key].dtype
        assert built["teff_k"].tolist() == teff and built["teff_k"].dtype == np.int32
        assert built["flux_flam"].dtype == np.float32
        # physics: 20000 K has no log g < 3.0 models; 5000 K has all eleven
        assert built["present"][:, 2].sum(axis=-1).tolist() == [5, 5, 5]
        assert built["present"][:, 0].all()

    # everything cached: nothing is requested again; --force fetches the tables again
    code, _, _ = _run_cli(["ck04", "--teff", *map(str, teff), "--settings", settings, "-q"], capsys)
    assert code == 0 and len(loopback.requests) == 9
    code, _, _ = _run_cli(
        ["ck04", "--teff", "5000", "--force", "--settings", settings, "-q"], capsys
    )
    assert code == 0 and len(loopback.requests) == 12


def test_ck04_missing_table_and_wrong_header(
    shared_data: Path, loopback: Loopback, cache: Path
) -> None:
    _write_cdbs_tables(
        shared_data / "ck04" / "ck04_subset.npz", loopback.root / "ck04models", [5000]
    )
    config = FetchConfig(**_settings(cache, ck04_url=loopback.url("ck04models")))
    with pytest.raises(DownloadError, match=r"ckm10/ckm10_6000\.fits: HTTP 404.*fetch\.ck04_url"):
        fetch_ck04(config=config, teff=[5000, 6000])
    assert not (cache / "ck04" / "ck04_subset.npz").exists()
    assert not (cache / "ck04" / "ck04models" / "ckm10" / "ckm10_6000.fits").exists()

    # a table whose header TEFF contradicts its name is rejected and not kept
    bad = loopback.root / "ck04models" / "ckp00" / "ckp00_5000.fits"
    with fits.open(bad) as hdul:
        hdul[0].header["TEFF"] = 5250
        hdul.writeto(bad, overwrite=True)
    with pytest.raises(
        InputFileError, match=r"ckp00_5000\.fits: header TEFF is 5250, expected 5000"
    ):
        fetch_ck04(config=config, teff=[5000], force=True)
    assert not (cache / "ck04" / "ck04models" / "ckp00" / "ckp00_5000.fits").exists()


def test_ck04_known_sums_match_the_real_grid(shared_data: Path, tmp_path: Path) -> None:
    with np.load(shared_data / "ck04" / "ck04_subset.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    assert arrays["teff_k"].tolist() == list(DEFAULT_TEFF)
    verify_grid(arrays, tmp_path / "g.npz")  # the shipped sums are those of the real grid
    flux = arrays["flux_flam"].copy()
    flux[1, 10, 8, 500] = np.nextafter(flux[1, 10, 8, 500], np.float32(np.inf))
    assert array_sha256(flux) != array_sha256(arrays["flux_flam"])
    with pytest.raises(InputFileError, match="array 'flux_flam' has sha256"):
        verify_grid({**arrays, "flux_flam": flux}, tmp_path / "g.npz")


def test_build_grid_reads_cdbs_layout(shared_data: Path, tmp_path: Path) -> None:
    grid = _write_cdbs_tables(shared_data / "ck04" / "ck04_subset.npz", tmp_path / "m", [9500])
    built = build_grid(tmp_path / "m", [9500])
    it = list(grid["teff_k"]).index(9500)
    np.testing.assert_array_equal(built["flux_flam"][:, 0], grid["flux_flam"][:, it])
    # integrated surface flux of 9500 K, log g 4.0, [M/H]=0 is sigma*T^4 within 0.5%
    wave = built["wavelength_angstrom"].astype(np.float64)
    f = built["flux_flam"][1, 0, 8].astype(np.float64)
    sigma_t4 = 5.670374e-5 * 9500.0**4  # erg s-1 cm-2
    assert np.trapezoid(f, wave) / sigma_t4 == pytest.approx(1.0, abs=5e-3)


# --------------------------------------------------------------------------- list and settings
def test_list_names_sources_and_licences(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run_cli(["list"], capsys)
    assert code == 0
    for name in ("first", "nvss", "mirabest", "ck04"):
        assert f"\n{name}\n" in f"\n{out}"
    assert "CC BY 4.0" in out and "4288837" in out and "Castelli & Kurucz" in out
    assert "SkyView" in out


def test_config_defaults_and_typos(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SKYSIFT_CACHE", str(tmp_path / "c"))
    assert FetchConfig().cache_path() == tmp_path / "c" == default_cache_dir()
    monkeypatch.delenv("SKYSIFT_CACHE")
    assert FetchConfig().cache_path() == Path.home() / ".cache" / "skysift"
    assert FetchConfig(cache_dir=str(tmp_path)).cache_path() == tmp_path
    assert FetchConfig().skyview_url.endswith("/cgi/runquery.pl")
    with pytest.raises(ConfigError, match=r"fetch\.timeout'.*unknown key"):
        load_section(FetchConfig, "fetch", '{"timeout": 3}')
    with pytest.raises(ConfigError, match=r"fetch\.retries"):
        load_section(FetchConfig, "fetch", '{"fetch": {"retries": -1}}')
