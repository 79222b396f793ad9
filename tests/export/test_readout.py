"""The readout window: one rule for training, evaluation, the file and sg-lava run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sg_lava.export import hdf5
from sg_lava.export.readout import check_readout, predict, readout_mask
from sg_lava.reference.fixed import FixedNetwork
from sg_lava.reference.quantize import quantize_network
from tests.helpers import dense_net, events


def rows(mask):
    return [np.flatnonzero(r).tolist() for r in mask]


def test_windows_by_hand_with_and_without_lengths():
    lengths = np.array([6, 3, 1])
    assert rows(readout_mask("last", 3, 6, lengths)) == [[5], [2], [0]]
    assert rows(readout_mask("all", 3, 6, lengths)) == [[0, 1, 2, 3, 4, 5], [0, 1, 2], [0]]
    assert rows(readout_mask("second-half", 3, 6, lengths)) == [[3, 4, 5], [1, 2], [0]]
    assert rows(readout_mask(0.5, 3, 6, lengths)) == [[3, 4, 5], [1, 2], [0]]  # round(1.5) = 2
    assert rows(readout_mask(0.2, 3, 6, lengths)) == [[5], [2], [0]]  # at least one step
    assert rows(readout_mask("second-half", 1, 7)) == [[3, 4, 5, 6]]  # t >= T // 2, as before


@pytest.mark.parametrize("bad", ["first", 0, 1.5, -0.1, True, None, [0.5]])
def test_bad_readouts_are_refused(bad):
    with pytest.raises(ValueError, match="readout must be one of"):
        check_readout(bad)


def test_bad_lengths_and_the_task_window_have_no_rule():
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 6\]"):
        readout_mask("last", 2, 6, np.array([7, 2]))
    with pytest.raises(ValueError, match="integers"):
        readout_mask("last", 2, 6, np.array([2.5, 2]))
    with pytest.raises(ValueError, match="no rule"):
        readout_mask("task", 2, 6)


def test_predict_sums_the_window_only():
    out = np.zeros((1, 4, 2))
    out[0, 0, 0] = 10  # outside the window: ignored
    out[0, 3, 1] = 1
    assert predict(out, readout_mask("last", 1, 4)).tolist() == [1]
    assert predict(out, readout_mask("all", 1, 4)).tolist() == [0]


def test_the_file_keeps_the_readout_and_refuses_a_bad_one(tmp_path):
    import h5py

    from sg_lava.export.hdf5 import FormatError

    net = dense_net([3, 4, 2])
    net.config["readout"] = 0.25
    q, _ = quantize_network(net)
    hdf5.write(q, tmp_path / "net.h5")
    assert hdf5.read(tmp_path / "net.h5").readout == 0.25
    with h5py.File(tmp_path / "net.h5", "a") as h:
        h.attrs["readout"] = "sometimes"
    with pytest.raises(FormatError, match="readout must be one of"):
        hdf5.read(tmp_path / "net.h5")


def test_sg_lava_run_predicts_with_the_files_window_and_the_samples_lengths(tmp_path):
    from sg_lava.cli import main

    net = dense_net([3, 6, 2], theta0=0.05)
    net.config["readout"] = "last"
    x = events((3,), 10, p=0.4, batch=3, seed=2).numpy()
    q, _ = quantize_network(net, calibration=torch.as_tensor(x))
    hdf5.write(q, tmp_path / "net.h5")
    lengths = np.array([10, 6, 3])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "lengths.npy", lengths)
    args = ["run", str(tmp_path / "net.h5"), "--input", str(tmp_path / "x.npy")]
    args += ["--lengths", str(tmp_path / "lengths.npy"), "--out", str(tmp_path / "o.npz")]
    assert main(args) == 0
    lag = q.latency
    ref, _, _ = FixedNetwork(q).run(np.concatenate([x, np.zeros((3, lag, 3))], 1).astype(int))
    with np.load(tmp_path / "o.npz") as got:
        assert np.array_equal(got["output"], ref.numpy())
        # the window is each sample's last step, delayed by the latency
        assert rows(got["window"]) == [[9 + lag], [5 + lag], [2 + lag]]
        want = ref.numpy()[np.arange(3), lengths - 1 + lag].argmax(-1)
        assert got["predictions"].tolist() == want.tolist()
        assert str(got["readout"]) == "last"
