"""Whether a saved training state is the same run: settings, training data (sha256)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skysift.io.resume import array_sha256, changed_settings, files_sha256, why_not_resumable


def test_file_digest_follows_content_names_and_absence(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text("{}")
    b.write_text("[]")
    first = files_sha256([a, b])
    assert files_sha256([a, b]) == first
    b.write_text("[1]")
    assert files_sha256([a, b]) != first
    b.unlink()
    assert files_sha256([a, b]) != files_sha256([a])  # an absent file still counts
    assert files_sha256([a, tmp_path / "c.json"]) != files_sha256([a, b])  # by name too


def test_array_digest_sees_values_shape_and_dtype() -> None:
    values = np.arange(12.0).reshape(3, 4)
    assert array_sha256(values) == array_sha256(values.copy())
    assert array_sha256(values[:, ::-1]) == array_sha256(np.ascontiguousarray(values[:, ::-1]))
    assert array_sha256(values) != array_sha256(values.reshape(4, 3))
    assert array_sha256(values) != array_sha256(values.astype(np.float32))
    changed = values.copy()
    changed[2, 3] += 1e-9
    assert array_sha256(values) != array_sha256(changed)


def test_reasons_not_to_resume() -> None:
    saved = {"lr": 1e-3, "max_steps": 10, "seed": 1}
    assert changed_settings(saved, {**saved, "max_steps": 20}, may_change={"max_steps"}) == []
    assert changed_settings(saved, {"lr": 1e-4, "max_steps": 10, "extra": 1}) == [
        "extra",
        "lr",
        "seed",
    ]
    same = {"saved_data_sha256": "x", "data_sha256": "x", "may_change": {"max_steps"}}
    assert why_not_resumable(saved, {**saved, "max_steps": 20}, **same) is None
    assert why_not_resumable(saved, {**saved, "lr": 0.1}, **same) == "made with other settings (lr)"
    other = {**same, "data_sha256": "y"}
    assert "other training data" in str(why_not_resumable(saved, saved, **other))
    older = {**same, "saved_data_sha256": None}
    assert "older skysift" in str(why_not_resumable(saved, saved, **older))


def test_training_state_absent_readable_or_a_one_line_error(tmp_path: Path) -> None:
    import torch

    from skysift.errors import InputFileError
    from skysift.io.resume import read_training_state

    assert read_training_state(tmp_path / "last.pt") is None  # nothing to resume
    torch.save({"step": 3}, tmp_path / "last.pt")
    assert read_training_state(tmp_path / "last.pt") == {"step": 3}
    (tmp_path / "last.pt").write_bytes(b"cut off")
    with pytest.raises(InputFileError, match=r"last.pt: not a readable torch file") as info:
        read_training_state(tmp_path / "last.pt")
    assert "\n" not in str(info.value)
