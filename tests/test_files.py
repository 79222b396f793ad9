"""Outputs: missing folders are made when the file is written, and only then."""

from __future__ import annotations

import os

import pytest

from sg_lava.errors import UserError
from sg_lava.files import atomic_write, check_destination


def test_missing_folders_are_made_when_the_file_is_written(tmp_path):
    out = tmp_path / "a" / "b" / "c.bin"
    assert check_destination(out) == out
    assert not (tmp_path / "a").exists()  # checking makes nothing
    atomic_write(out, lambda f: f.write(b"data"))
    assert out.read_bytes() == b"data"


def test_a_failed_write_removes_the_folders_it_made_and_no_others(tmp_path):
    (tmp_path / "kept").mkdir()

    def fail(f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(UserError, match="no space left"):
        atomic_write(tmp_path / "kept" / "new" / "deeper" / "x.bin", fail)
    assert [p.name for p in tmp_path.rglob("*")] == ["kept"]


def test_a_file_in_the_way_or_a_read_only_ancestor_is_refused_before_anything(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is not a folder"):
        check_destination(tmp_path / "file" / "sub" / "out.bin")
    if os.geteuid() == 0:
        return  # root writes into read-only folders
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(UserError, match=f"cannot make .* in folder {ro}"):
            check_destination(ro / "sub" / "out.bin")
    finally:
        ro.chmod(0o755)
