"""Real-valued, signed inputs: a calibrated input scale, the same integers everywhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sg_lava.processes.runner import encode_inputs, run_samples
from sg_lava.reference.fixed import FixedNetwork
from sg_lava.reference.quantize import INPUT_BITS, input_frac_bits, quantize_network
from tests.helpers import dense_net, events


def signed(batch=8, T=30, channels=3, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, T, channels, generator=g) * scale


@pytest.mark.parametrize("scale", [1.0, 0.01, 300.0])
def test_a_signed_real_input_keeps_its_sign_and_8_bits_at_any_scale(scale):
    x = signed(scale=scale)
    net = dense_net([3, 5, 2])
    q, _ = quantize_network(net, calibration=x)
    f = q.spec.input_frac_bits
    assert f == input_frac_bits(x)
    ints = q.quantize_input(x.numpy())
    assert (ints < 0).any() and (ints > 0).any()
    peak = float(x.abs().max())
    error = np.abs(ints / 2.0**f - x.numpy().astype(np.float64)).max()
    assert error < 2.0**-8 * peak  # the bound
    rms = float(x.square().mean().sqrt())
    assert rms * 2.0**f >= 2 ** (INPUT_BITS - 1)  # 8 significant bits at the typical size


def test_integer_inputs_stay_exact_and_unscaled():
    assert input_frac_bits(events((3,), 20).float()) == 0
    assert input_frac_bits(torch.tensor([[[0.0, 3.0, -2.0]]])) == 0
    assert input_frac_bits(torch.zeros(2, 4, 3)) == 0


def test_the_scale_leaves_room_for_the_largest_value():
    x = signed()
    x[0, 0, 0] = 1e6  # one outlier far above the typical magnitude
    f = input_frac_bits(x)
    assert 1e6 * 2.0 * 2.0**f <= (1 << 23) - 1


def test_lava_runs_signed_real_inputs_spike_for_spike_with_the_reference():
    net = dense_net([3, 8, 2], K=3, theta0=0.05)
    x = signed(batch=2, T=40, seed=3)
    q, _ = quantize_network(net, calibration=x)
    assert q.spec.input_frac_bits >= INPUT_BITS
    ints = encode_inputs(q, x.numpy(), "fixed")
    out, spikes, _ = FixedNetwork(q).run(ints)
    got = run_samples(q, ints)
    assert int(np.count_nonzero(spikes[0])) > 20  # the comparison is not vacuous
    for a, b in zip([*spikes, out], got):
        np.testing.assert_array_equal(b, a.numpy())
