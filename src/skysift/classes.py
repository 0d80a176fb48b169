"""Detection classes of the radio case (the default; the project config may change them)."""

from __future__ import annotations

#: Default detection classes, in category-id order (COCO category id = index + 1).
DEFAULT_CLASSES: tuple[str, ...] = ("compact", "extended", "extended-multi", "diffuse", "spurious")
