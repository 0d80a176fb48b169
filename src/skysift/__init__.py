"""skysift: find, classify and explain astronomical sources with deep learning."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skysift")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
