"""User data in .npz: read back exactly, and every bad file named in one line."""

from __future__ import annotations

import numpy as np
import pytest

from sg_lava.data.userdata import load_split
from sg_lava.errors import UserError


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


def _events(t, x, p=None):
    fields = [("t", np.int64), ("x", np.int16)] + ([("p", np.int8)] if p is not None else [])
    ev = np.zeros(len(t), fields)
    ev["t"], ev["x"] = t, x
    if p is not None:
        ev["p"] = p
    return ev


def test_events_are_binned_per_sample_with_tonic_to_frame(tmp_path):
    from sg_lava.data.userdata import events_split, write_events

    # tonic's n_time_bins: [t_first, t_last) cut in equal bins, [0, 35) and [35, 70); the
    # last event (t = 70) falls outside, as in tonic (docs/data.md says so)
    ev = _events([0, 10, 60, 70], [0, 1, 1, 2])
    write_events(tmp_path / "train.h5", [(ev, 1), (ev[:0], 0)], (3, 1, 1))
    data = events_split(tmp_path, "train", bins=2, n_classes=2)
    x, y, mask = next(data.batches(2))
    assert x[0].tolist() == [[1, 1, 0], [0, 1, 0]] and x[1].sum() == 0  # an empty sample: zeros
    assert y.tolist() == [1, 0] and mask[0].tolist() == [False, True]


@pytest.mark.parametrize(
    "samples,labels,size,message",
    [
        ([_events([0, 1], [0, 5])], [0], (3, 1, 1), "events/0: x must be integers in [0, 3)"),
        ([_events([5, 1], [0, 1])], [0], (3, 1, 1), "events/0: t must be sorted"),
        ([_events([0, 1], [0, 1])], [2], (3, 1, 1), "labels must lie in [0, 2)"),
        ([_events([0, 1], [0, 1])], [0], (3, 2, 1), "without a y field need sensor_size H = 1"),
        ([_events([0, 1], [0, 1])], [0], (4, 1, 1), "gives 4 inputs per step but the network"),
    ],
)
def test_bad_event_files_get_one_line_naming_the_file(tmp_path, samples, labels, size, message):
    from sg_lava.data.userdata import events_split, write_events

    write_events(tmp_path / "test.h5", zip(samples, labels), size)
    with pytest.raises(UserError) as err:
        data = events_split(tmp_path, "test", bins=2, n_classes=2, input_shape=(3,), workers=1)
        list(data.batches(1))  # per-sample problems surface when a worker reads the sample
    text = str(err.value)
    assert "test.h5" in text and message in text and "\n" not in text, text


def test_streamed_training_is_the_in_memory_run(tmp_path):
    """Same samples, same seed: the streamed batches (two workers) train the same weights."""
    import torch

    from sg_lava.data.userdata import events_split
    from sg_lava.training.config import TrainConfig
    from sg_lava.training.loop import train
    from tests.helpers import dense_net, write_user_events

    write_user_events(tmp_path, n_train=20, n_test=2)
    stream = events_split(tmp_path, "train", bins=6, n_classes=2, input_shape=(8,), workers=2)
    memory = stream.head(len(stream))
    cfg = TrainConfig(epochs=2, batch_size=6, seed=3)
    nets = [dense_net([8, 5, 2], seed=1) for _ in range(2)]
    for net, data in zip(nets, (stream, memory)):
        train(net, data, cfg, progress=False)
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)
    assert not torch.equal(nets[0].layers[0].weight, dense_net([8, 5, 2], seed=1).layers[0].weight)


def test_labels_and_event_arrays_of_different_counts_are_refused(tmp_path):
    import h5py

    from sg_lava.data.userdata import events_split, write_events

    write_events(tmp_path / "train.h5", [(_events([0, 1], [0, 1]), 0)], (3, 1, 1))
    with h5py.File(tmp_path / "train.h5", "r+") as h:
        del h["labels"]
        h["labels"] = np.array([0, 1])
    with pytest.raises(UserError, match="train.h5: 2 labels but 1 event arrays"):
        events_split(tmp_path, "train", bins=2)
