"""Settings of data fetching (section ``fetch`` of the project config).

Every source URL is a setting, so that a mirror (or the loopback server of the tests) can
stand in for the public archive without touching code.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from skysift.settings import StrictModel

#: Environment variable that overrides the default cache folder.
CACHE_ENV = "SKYSIFT_CACHE"

#: NASA SkyView batch interface; answers a FITS file directly with ``Return=FITS``.
SKYVIEW_URL = "https://skyview.gsfc.nasa.gov/current/cgi/runquery.pl"

#: MiraBest batched archive, tried in order: the Zenodo record (Porter & Scaife, record 4288837),
#: then the Jodrell Bank copy that the published PyTorch loaders download.
MIRABEST_URLS = (
    "https://zenodo.org/records/4288837/files/MiraBest_F_batches.tar.gz?download=1",
    "http://www.jb.man.ac.uk/research/MiraBest/MiraBest_F/MiraBest_F_batches.tar.gz",
)

#: STScI public copy of the CDBS ``ck04models`` grid: ``<url>/ckp00/ckp00_5000.fits``.
CK04_URL = "https://archive.stsci.edu/hlsps/reference-atlases/cdbs/grid/ck04models"


def default_cache_dir() -> Path:
    """``$SKYSIFT_CACHE`` if set, else ``~/.cache/skysift``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "skysift"


class FetchConfig(StrictModel):
    """Where downloads come from and where they are kept."""

    cache_dir: str | None = Field(
        None,
        description="cache folder; null means $SKYSIFT_CACHE or ~/.cache/skysift",
    )
    skyview_url: str = Field(
        SKYVIEW_URL, description="SkyView runquery.pl endpoint (FIRST/NVSS cutouts)"
    )
    mirabest_urls: list[str] = Field(
        default_factory=lambda: list(MIRABEST_URLS),
        min_length=1,
        description="MiraBest batches archive (.tar.gz) URLs, tried in order",
    )
    ck04_url: str = Field(
        CK04_URL, description="base URL of the ck04models folders (ckm10/, ckp00/, ckp02/)"
    )
    timeout_s: float = Field(60.0, gt=0, description="network timeout per request in seconds")
    retries: int = Field(
        2, ge=0, le=10, description="extra attempts after a timeout or server error"
    )
    retry_wait_s: float = Field(
        2.0, ge=0, description="wait before the first retry in seconds (doubles each time)"
    )

    def cache_path(self) -> Path:
        """The resolved cache folder."""
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()
