"""RLE masks, COCO documents and the validator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skysift.data.coco import (
    coco_document,
    decode_mask,
    encode_mask,
    mask_bbox,
    validate_coco,
    write_coco,
)
from skysift.errors import InputFileError

CLASSES = ("compact", "extended")


def two_island_mask() -> np.ndarray:
    mask = np.zeros((20, 30), dtype=bool)
    mask[2:5, 3:7] = True
    mask[10:12, 20:29] = True
    return mask


def test_rle_round_trip_and_json() -> None:
    mask = two_island_mask()
    rle = encode_mask(mask)
    assert rle["size"] == [20, 30] and isinstance(rle["counts"], str)
    again = decode_mask(json.loads(json.dumps(rle)))
    np.testing.assert_array_equal(again, mask)
    assert mask_bbox(mask) == [3, 2, 26, 10]
    with pytest.raises(ValueError, match="empty mask"):
        mask_bbox(np.zeros((3, 3), dtype=bool))


def document(**ann_changes: object) -> dict:
    mask = two_island_mask()
    ann = {
        "id": 1,
        "image_id": 1,
        "category_id": 2,
        "segmentation": encode_mask(mask),
        "area": int(mask.sum()),
        "bbox": mask_bbox(mask),
        "iscrowd": 0,
        "snr": float("nan"),
    }
    ann.update(ann_changes)
    image = {"id": 1, "file_name": "images/train/a_0_0.fits", "width": 30, "height": 20}
    return coco_document([image], [ann], CLASSES)


def test_valid_document_written_as_strict_json(tmp_path: Path) -> None:
    path = write_coco(tmp_path / "a.json", document())
    text = path.read_text()
    assert "NaN" not in text and '"snr": null' in text
    doc = validate_coco(path, classes=CLASSES)
    assert doc["categories"][1] == {"id": 2, "name": "extended", "supercategory": "radio"}
    assert doc["annotations"][0]["area"] == 30


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bbox": [3, 2, 25, 10]}, "bbox"),
        ({"area": 29}, "area 29 != mask area 30"),
        ({"category_id": 3}, "invalid category_id 3"),
        ({"image_id": 7}, "missing image 7"),
        ({"segmentation": encode_mask(np.zeros((20, 31), dtype=bool))}, "mask size"),
    ],
)
def test_validator_catches(changes: dict, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        validate_coco(document(**changes), classes=CLASSES)


def test_validator_structure(tmp_path: Path) -> None:
    doc = document()
    doc["annotations"].append(dict(doc["annotations"][0]))
    with pytest.raises(InputFileError, match="annotation id 1 is not unique"):
        validate_coco(doc, classes=CLASSES)
    with pytest.raises(InputFileError, match="categories"):
        validate_coco(document(), classes=("compact", "diffuse"))
    with pytest.raises(InputFileError, match="lacks the list 'images'"):
        validate_coco({"annotations": [], "categories": []}, classes=CLASSES)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputFileError, match=r"bad.json: not valid JSON"):
        validate_coco(bad, classes=CLASSES)
