"""Lava runs of GammaNeuron networks against the integer reference, spike for spike."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from sg_lava.errors import UserError
from sg_lava.processes.builder import LavaNetwork
from sg_lava.processes.runner import run_samples
from sg_lava.reference.fixed import FixedNetwork
from sg_lava.reference.quantize import quantize_network
from tests.helpers import conv_net, dense_net, events, spread_copies

CASES = {
    "dense-K1": lambda: dense_net([6, 10, 8, 4], K=1, theta0=0.05),
    "dense-K3-synapse": lambda: dense_net([6, 10, 8, 4], K=3, per_synapse=True),
    "dense-K8": lambda: dense_net([6, 12, 4], K=8),
    "dense-K8-synapse": lambda: dense_net([6, 12, 4], K=8, per_synapse=True, seed=3),
    "dense-K6-synapse-copy-grids": lambda: spread_copies(
        dense_net([6, 12, 4], K=6, per_synapse=True, seed=5), factor=2.0
    ),
    "conv-K3-pool": lambda: conv_net(K=3, seed=4),  # seed 0: its second conv barely fires
    "conv-K8-synapse": lambda: conv_net(K=8, per_synapse=True, pool=False),
}


def reference(q, x):
    out, spikes, sat = FixedNetwork(q).run(x)
    return [s.numpy() for s in spikes] + [out.numpy()], sat


@pytest.mark.parametrize("case", list(CASES))
def test_random_networks_match_the_reference_spike_for_spike(case):
    net = CASES[case]()
    x = events(net.input_shape, 210, p=0.2, batch=2, seed=7)
    q, _ = quantize_network(net, calibration=x.float())
    if "copy-grids" in case:  # the case exists to exercise per-copy drive shifts
        assert all(L.neuron.copy_exp is not None and L.neuron.copy_exp.max() >= 3 for L in q.layers)
    ref, sat = reference(q, x.long())
    got = run_samples(q, x.long().numpy())
    for i, (a, b) in enumerate(zip(ref, got)):
        assert a.shape == b.shape
        np.testing.assert_array_equal(b, a, err_msg=f"layer {i}")
    hidden_spikes = [int(np.count_nonzero(a)) for a in ref[:-1]]
    assert all(n > 50 for n in hidden_spikes), hidden_spikes  # the comparison is not vacuous
    assert len({int(v) for v in np.unique(ref[0])}) > 2  # graded payloads, not just 0/1


def test_back_to_back_samples_with_reset_equal_fresh_networks():
    net = dense_net([4, 8, 3], K=4)
    x = events((4,), 40, batch=3, seed=11).long().numpy()
    q, _ = quantize_network(net)
    together = run_samples(q, x)
    for b in range(3):
        alone = run_samples(q, x[b : b + 1])
        for a, c in zip(together, alone):
            np.testing.assert_array_equal(a[b], c[0])


def test_runtime_is_stopped_after_an_error():
    q, _ = quantize_network(dense_net([4, 5, 3]))
    x = events((4,), 10, batch=1).long().numpy()
    with pytest.raises(RuntimeError, match="boom"):
        with LavaNetwork(q, np.concatenate([x] * 5)) as lava:
            for i, _ in enumerate(lava):
                if i == 1:
                    raise RuntimeError("boom")  # an error mid-run: the runtime still stops
    assert not lava._running
    assert not multiprocessing.active_children()
    with pytest.raises(UserError, match="expects"):
        LavaNetwork(q, x[:, :, :2])


def test_loihi2_backend_says_what_is_missing():
    q, _ = quantize_network(dense_net([4, 5, 3]))
    with pytest.raises(UserError, match="lava-loihi.*fixed backend"):
        LavaNetwork(q, np.zeros((1, 10, 4)), backend="loihi2")


@pytest.mark.parametrize(
    "case",
    [
        "dense-K3",
        "dense-K3-synapse",
        "dense-K6-synapse-copy-grids",
        "conv-K3-pool",
        "conv-K8-synapse",
    ],
)
def test_float_backend_tracks_the_float_equations(case):
    """floating_pt with the file's integer parameters read as reals, against the integer
    reference: the same equations without rounding, so the readouts agree closely."""
    builders = {
        "dense-K3": lambda: dense_net([4, 8, 3], K=3),
        "dense-K3-synapse": lambda: dense_net([4, 8, 3], K=3, per_synapse=True),
        **{k: CASES[k] for k in ("dense-K6-synapse-copy-grids", "conv-K3-pool", "conv-K8-synapse")},
    }
    net = builders[case]()
    x = events(net.input_shape, 50, batch=1, seed=2).long()
    q, _ = quantize_network(net, calibration=x.float())
    out_fixed, _ = reference(q, x)
    out_float = run_samples(q, x.numpy().astype(float), backend="float")
    rel = np.abs(out_float[-1] - out_fixed[-1]).max() / np.abs(out_fixed[-1]).max()
    assert rel < 0.05
