"""Class-balance table and plot of a training set."""

from __future__ import annotations

import csv
from pathlib import Path

from skysift.report.class_balance import class_balance_rows, markdown_table, write_class_balance

CLASSES = ("compact", "extended", "diffuse")


def test_counts_table_and_files(tmp_path: Path) -> None:
    docs = {
        "train": {
            "annotations": [
                {"category_id": 1, "truncated": False},
                {"category_id": 1, "truncated": True},
                {"category_id": 3, "truncated": True},
            ]
        },
        "val": {"annotations": [{"category_id": 2, "truncated": False}]},
        "test": {"annotations": []},
    }
    rows = class_balance_rows(docs, CLASSES)
    assert len(rows) == 9
    by_key = {(r["split"], r["class"]): (r["n_objects"], r["n_truncated"]) for r in rows}
    assert by_key["train", "compact"] == (2, 1)
    assert by_key["train", "diffuse"] == (1, 1)
    assert by_key["val", "extended"] == (1, 0)
    assert by_key["test", "compact"] == (0, 0)
    table = markdown_table(rows, CLASSES)
    assert "| class | train | val | test |" in table
    assert "| compact | 2 (1 truncated) | 0 (0 truncated) | 0 (0 truncated) |" in table
    assert "| **total** | 3 | 1 | 0 |" in table
    paths = write_class_balance(rows, tmp_path / "cb", classes=CLASSES)
    assert [p.name for p in paths] == ["cb.csv", "cb.md", "cb.png"]
    with paths[0].open() as handle:
        read = list(csv.DictReader(handle))
    assert [(r["split"], r["class"], r["n_objects"]) for r in read][:2] == [
        ("train", "compact", "2"),
        ("train", "extended", "0"),
    ]
    assert paths[2].stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cb.csv", "cb.md", "cb.png"]
