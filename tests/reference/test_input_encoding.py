"""The input encoder: direct, delta, sigma-delta; the same integers on the host for the
reference and for Lava, and the float model trained through the same code."""

from __future__ import annotations

import copy

import h5py
import numpy as np
import pytest
import torch

from sg_lava.export import hdf5
from sg_lava.export.encoding import encode
from sg_lava.model.network import GammaNetwork
from sg_lava.processes.runner import encode_inputs, run_samples
from sg_lava.reference.fixed import FixedNetwork
from sg_lava.reference.quantize import quantize_network
from tests.helpers import dense_net


def seq(*values):
    return np.array(values, dtype=np.int64).reshape(1, -1, 1)


def test_delta_sends_changes_of_at_least_theta_and_keeps_the_rest_as_residue():
    x = seq(0, 3, 3, 4, 4, 1)
    got = encode(x, "delta", theta=2, integer=True).ravel().tolist()
    assert got == [0, 3, 0, 0, 0, -2]  # 4-3 = 1 waits as residue; -3 + 1 = -2 goes
    assert encode(x, "delta", theta=0, integer=True).ravel().tolist() == [0, 3, 0, 1, 0, -3]
    assert encode(x, "delta", theta=2, integer=True).sum() == 1  # the sum tracks x(T-1)


def test_sigma_delta_predicts_the_first_bucket_and_spikes_theta_signed():
    # d = 2048 (alpha 0.5, 12 bits), theta0 = 4: p = e/2 truncated; fire when 2|x - p| > theta
    x = seq(10, 10, 10, 1, -10)
    got = encode(x, "sigma-delta", theta=4, decay=2048, integer=True).ravel().tolist()
    # e: 4, 2+4=6, 3+4=7, p=3: 2|1-3|=4 not > 4: e=3, p=1: -10-1 -> -4
    assert got == [4, 4, 4, 0, -4]
    # the adaptive threshold: theta = 4 + (2048 * |x(t-1)|) >> 12 = 4 + 5 after a 10
    got = encode(seq(10, 10), "sigma-delta", theta=4, mf=2048, decay=2048, integer=True)
    assert got.ravel().tolist() == [4, 9]


def test_direct_is_the_input_itself_and_every_sample_starts_from_zero():
    x = np.random.default_rng(0).integers(-5, 5, (3, 7, 2))
    assert encode(x, "direct") is x
    both = encode(x, "delta", theta=1, integer=True)
    for b in range(3):
        assert np.array_equal(both[b], encode(x[b : b + 1], "delta", theta=1, integer=True)[0])


def encoded_net(encoding: str, theta: float, mf: float = 0.0) -> GammaNetwork:
    net = dense_net([3, 8, 2], K=3, theta0=0.05, seed=4)
    config = {**copy.deepcopy(net.config), "input_encoding": encoding, "input_theta": theta}
    config["input_mf"] = mf
    other = GammaNetwork(config)
    other.load_state_dict(net.state_dict())
    return other


def smooth(batch=2, T=50, seed=1):
    """Slowly varying signed signals: what delta and sigma-delta codes make sparse."""
    g = torch.Generator().manual_seed(seed)
    steps = torch.randn(batch, T, 3, generator=g) * 0.1
    return steps.cumsum(1) + torch.randn(batch, 1, 3, generator=g)


@pytest.mark.parametrize("encoding,theta,mf", [("delta", 0.05, 0.0), ("sigma-delta", 0.6, 0.1)])
def test_lava_runs_encoded_inputs_spike_for_spike_with_the_reference(encoding, theta, mf, tmp_path):
    net = encoded_net(encoding, theta, mf)
    x = smooth()
    q, _ = quantize_network(net, calibration=x)
    hdf5.write(q, tmp_path / "net.h5")
    back = hdf5.read(tmp_path / "net.h5")
    assert (back.input_encoding, back.input_theta, back.input_mf) == (
        encoding, q.input_theta, q.input_mf
    )  # fmt: skip
    with h5py.File(tmp_path / "net.h5") as h:
        assert h.attrs["format_version"] == "3.0"  # older readers refuse it
    sent = encode_inputs(back, x.numpy(), "fixed")
    direct = back.quantize_input(x.numpy())
    assert 0 < np.count_nonzero(sent) < 0.7 * np.count_nonzero(direct)  # sparser input
    out, spikes, _ = FixedNetwork(back).run(direct)  # the reference encodes on its own
    got = run_samples(back, sent)
    assert int(np.count_nonzero(spikes[0])) > 20
    for a, b in zip([*spikes, out], got):
        np.testing.assert_array_equal(b, a.numpy())


def test_the_float_model_trains_through_the_same_code():
    from sg_lava.training.steps import train_batch_online

    net = encoded_net("delta", 0.05)
    x = smooth(batch=4, T=20)
    plain = encoded_net("direct", 0.0)
    sent = torch.as_tensor(encode(x.numpy(), "delta", theta=0.05), dtype=x.dtype)
    with torch.no_grad():
        torch.testing.assert_close(net(x), plain(sent))  # forward encodes, step takes it encoded
    mask = torch.ones(4, 20, dtype=torch.bool)
    loss = train_batch_online(net, x, torch.tensor([0, 1, 0, 1]), mask, "ce", 2)
    other = train_batch_online(plain, sent, torch.tensor([0, 1, 0, 1]), mask, "ce", 2)
    assert loss == pytest.approx(other)


def test_a_bad_encoding_in_a_file_is_refused(tmp_path):
    from sg_lava.export.hdf5 import FormatError

    q, _ = quantize_network(encoded_net("delta", 0.05), calibration=smooth())
    hdf5.write(q, tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5", "a") as h:
        h["input_code"].attrs["encoding"] = "morse"
    with pytest.raises(FormatError, match="input_encoding must be one of"):
        hdf5.read(tmp_path / "net.h5")
    with pytest.raises(ValueError, match="needs input_theta > 0"):
        encoded_net("sigma-delta", 0.0)
