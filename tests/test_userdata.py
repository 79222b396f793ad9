"""User data in .npz: read back exactly, and every bad file named in one line."""

from __future__ import annotations

import numpy as np
import pytest

from sg_lava.errors import UserError
from sg_lava.userdata import load_split


def test_npz_split_reads_back_with_second_half_readout(tmp_path):
    x = np.random.default_rng(0).random((4, 6, 3))
    np.savez(tmp_path / "train.npz", x=x, y=np.array([0, 2, 1, 2]))
    data = load_split(tmp_path, "train")
    assert np.allclose(data.x.numpy(), x) and data.y.tolist() == [0, 2, 1, 2]
    assert data.n_classes == 3 and len(data) == 4
    assert data.mask[0].tolist() == [False] * 3 + [True] * 3


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"x": np.zeros((2, 5, 3))}, "missing array 'y'"),
        ({"x": np.zeros((2, 5, 3)), "y": np.zeros(3, int)}, "y must be \\(2,\\)"),
        ({"x": np.full((2, 5, 3), np.nan), "y": np.zeros(2, int)}, "NaN"),
        ({"x": np.zeros((2, 5, 3)), "y": np.array([0, -1])}, "labels must lie"),
        ({"x": np.zeros((2, 5, 3)), "y": np.array([0.5, 1.0])}, "integer labels"),
        ({"x": np.zeros((2, 5)), "y": np.zeros(2, int)}, "x must be \\(n, T"),
    ],
)
def test_bad_npz_files_get_one_line_naming_the_file(tmp_path, arrays, message):
    np.savez(tmp_path / "test.npz", **arrays)
    with pytest.raises(UserError, match=message) as err:
        load_split(tmp_path, "test")
    assert "test.npz" in str(err.value) and "\n" not in str(err.value)


def test_labels_beyond_the_network_classes_are_refused(tmp_path):
    np.savez(tmp_path / "test.npz", x=np.zeros((2, 4, 1)), y=np.array([0, 3]))
    with pytest.raises(UserError, match=r"\[0, 3\)"):
        load_split(tmp_path, "test", n_classes=3)
