"""The integer reference: its operations by hand, and its agreement with float."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as fn

from sg_lava.export.neuron import GammaParams
from sg_lava.export.qnet import FixedPointSpec, QuantizedNetwork, QuantLayer
from sg_lava.model.grid import quantize_weight
from sg_lava.model.network import GammaNetwork
from sg_lava.reference.fixed import FixedNetwork, decay, shift, wrap
from sg_lava.reference.quantize import fold_pooling, quantize_network
from tests.helpers import conv_net, dense_net, events, spread_copies

T = torch.tensor


def test_decay_rounds_toward_zero():
    assert decay(T([5, -5, 4095, -4095]), 2048, 12).tolist() == [2, -2, 2047, -2047]
    assert decay(T([3]), 1, 12).tolist() == [0]


def test_shift_is_floor_for_negative_exponents():
    assert shift(T([5, -5, 7]), -1).tolist() == [2, -3, 3]
    assert shift(T([5, -5]), 3).tolist() == [40, -40]


def test_wrap_is_twos_complement():
    assert wrap(T([2**23, -(2**23) - 1, 5]), 24).tolist() == [-(2**23), 2**23 - 1, 5]


def one_layer(K=2, decay_=(2048, 2048), v=(1, 1), vexp=0, bias=0, drive_exp=0, is_output=True):
    neuron = GammaParams(
        decay=np.array(decay_),
        bucket_weight=np.array(v).reshape(K, 1),
        bucket_weight_exp=vexp,
        bias=np.array([bias]),
        drive_exp=drive_exp,
        theta0=410,
        mf=410,
        decay_out=0,
        is_output=is_output,
        per_synapse=False,
        frac_bits=12,
        weight_exp=0,
    )
    layer = QuantLayer(
        kind="dense", in_shape=(1,), shape=(1,), weight=np.array([[2]]), neuron=neuron
    )
    return QuantizedNetwork((1,), [layer], FixedPointSpec(), timing="zero")


def test_integer_buckets_and_readout_by_hand():
    """Input 2048 at t0 times weight 2 = 4096 (1.0); d = 2048 halves (toward zero).

    B1: 4096, 2048, 1024, 512;  B2: 0, 2048, 2048, 1536;  x = B1 + B2 + bias 100.
    """
    q = one_layer(bias=100)
    out, _, sat = FixedNetwork(q).run(np.array([[[2048], [0], [0], [0]]]))
    assert out[0, :, 0].tolist() == [4196, 4196, 3172, 2148]
    assert sat.total == 0


def test_readout_shift_floors_and_saturation_is_counted():
    q = one_layer(v=(3, 0), vexp=2)  # x = floor(3*B1 / 4)
    out, _, sat = FixedNetwork(q).run(np.array([[[1]], [[-1]]]))
    assert out[:, 0, 0].tolist() == [1, -2]  # floor(6/4) = 1, floor(-6/4) = -2
    big = one_layer(drive_exp=23)  # c = 2 << 23 saturates to 2**23 - 1
    _, _, sat = FixedNetwork(big).run(np.array([[[1]]]))
    assert sat.counts[(0, "drive")] == 1


def test_encoder_in_integers_by_hand():
    """Hidden layer, K=1, d=4095, v=1, theta0 = mf-scaled 410, decay_out 2048.

    Constant drive 4096*... : y = B1; t0: B1 = 800, theta = 410, p = 0, 2*(800-0) > 410 -> s = 410,
    e = 410; t1: B1 = decay(800, 4095) + 800 = 799 + 800 = 1599, theta = 410 + (410*800 >> 12) = 490,
    p = decay(410, 2048) = 205, 2*(1599-205) > 490 -> s = 490, e = 695.
    """
    layer = one_layer(K=1, decay_=(4095,), v=(1,), is_output=False).layers[0]
    layer.neuron.decay_out = 2048
    out = replace(layer, neuron=replace(layer.neuron, is_output=True, decay_out=0))
    q = QuantizedNetwork((1,), [layer, out], FixedPointSpec(), timing="zero")
    _, spikes, _ = FixedNetwork(q).run(np.array([[[400], [400]]]))
    assert spikes[0][0, :, 0].tolist() == [410, 490]


def test_each_weight_copy_has_its_own_drive_shift_by_hand():
    """Per-synapse, K = 2, both copies stored as mantissa 1 (weight 2); copy 1 is stored
    4x finer (copy_exp 2), so its drive is a >> 2, a floor. d = 2048 halves toward zero.

    Input 4096: a = 8192 both; c0 = 8192, c1 = 2048. t0: q0 = 8192, q1 = 2048;
    t1: q0 = 4096 + decay(2048, 2048) = 5120, q1 = 1024; t2: q0 = 2560 + 512 = 3072.
    Input -1: a = -2; c0 = -2, c1 = floor(-2 / 4) = -1; t1: q0 = -1 + 0 = -1.
    """
    neuron = replace(
        one_layer().layers[0].neuron,
        bucket_weight=None,
        per_synapse=True,
        copy_exp=np.array([0, 2]),
    )
    layer = QuantLayer("dense", (1,), (1,), np.array([[[2]], [[2]]]), neuron)
    q = QuantizedNetwork((1,), [layer], FixedPointSpec(), timing="zero")
    out, _, _ = FixedNetwork(q).run(np.array([[[4096], [0], [0]], [[-1], [0], [0]]]))
    assert out[0, :, 0].tolist() == [8192, 5120, 3072]
    assert out[1, :2, 0].tolist() == [-2, -1]
    assert torch.equal(FixedNetwork(q, float_sums=False).run(np.array([[[-1], [0]]]))[0],
                       out[1:, :2])  # fmt: skip


def test_weight_copies_get_the_finest_grid_that_holds_them():
    """Copies W * V^k whose sizes fall 4x per bucket: with one exponent for all, 8-bit
    mantissas zero a quarter of them; with one per copy each copy fills its 8 bits and
    only products that are themselves near 0 round to 0."""
    net = spread_copies(dense_net([6, 12, 4], K=4, per_synapse=True))
    q, reports = quantize_network(net)
    n = q.layers[0].neuron
    mantissas = np.abs(q.layers[0].weight // 2).reshape(4, -1).max(1)
    assert np.all((mantissas >= 64) & (mantissas <= 127))  # each copy fills its own 8 bits
    assert n.copy_exp[0] == 0 and n.copy_exp[-1] >= 5  # sizes fall 4x per copy
    assert reports[0].weight_zeroed < 0.05  # only products near 0 themselves
    m = net.gamma_layers[0]
    w = (m.weight.unsqueeze(0) * m.bucket_weight).detach().double().numpy()
    value = q.layers[0].weight * 2.0 ** -(n.weight_exp + n.copy_exp).reshape(-1, 1, 1)
    for k in range(4):  # error at most half a step of the copy's own grid
        step = 2.0 ** (1 - n.weight_exp - n.copy_exp[k])
        assert np.abs(value[k] - w[k]).max() <= step / 2 + 1e-12
    shared = quantize_weight(w, 8)[3]
    assert shared > 5 * reports[0].weight_zeroed  # what one grid for all copies zeroes


def test_quantised_weights_are_even_and_in_lava_range():
    w = np.array([[0.5, -0.25], [0.01, -0.5]])
    q, exp, clipped, zeroed = quantize_weight(w, 8)
    assert exp == 8 and clipped == 0.0
    assert q.tolist() == [[128, -64], [2, -128]]
    assert np.all(q % 2 == 0) and q.min() >= -256 and q.max() <= 254


WIDE = FixedPointSpec(
    state_bits=40,
    decay_bits=16,
    weight_bits=16,
    bucket_weight_bits=16,
    mf_bits=16,
    state_frac_bits=20,
    sum_bits=64,
)


@pytest.mark.parametrize("per_synapse", [False, True])
@pytest.mark.parametrize("builder", [dense_net, conv_net], ids=["dense", "conv"])
def test_wide_fixed_point_tracks_float(builder, per_synapse):
    """Stated bound: with 16-bit weights, 40-bit states and F = 20, at least 99.5 % of hidden
    spike events are identical to float64 and the output stays within 1 % of its range."""
    net = (
        builder([5, 8, 3], per_synapse=per_synapse)
        if builder is dense_net
        else builder(per_synapse=per_synapse)
    ).double()
    x = events(net.input_shape, 60)
    with torch.no_grad():
        out, spikes = net(x, return_spikes=True)
    q, _ = quantize_network(net, spec=WIDE)
    o, s, sat = FixedNetwork(q).run(x.long())
    assert sat.total == 0
    for a, b in zip(s, spikes):
        same = ((a.double() / 2**20 - b).abs() < 1e-4).double().mean()
        assert same >= 0.995
    err = (o.double() / 2**20 - out).abs().max()
    assert err <= 0.01 * out.abs().max()


def test_loihi_widths_keep_most_spikes():
    net = dense_net([5, 16, 3], K=4).double()
    x = events((5,), 60)
    with torch.no_grad():
        out, spikes = net(x, return_spikes=True)
    q, _ = quantize_network(net, calibration=x)
    o, s, sat = FixedNetwork(q).run(x.long())
    assert sat.total == 0
    err = (o.double() / 2.0 ** q.layers[-1].frac_bits - out).abs().max()
    assert err <= 0.05 * out.abs().max()


def test_lava_timing_without_bias_is_a_shift_per_layer():
    """With zero biases the Lava-aligned trajectory of layer l is the zero-delay one l+1
    steps later (time invariance from a zero state); biases break this, which is why a
    model trains in the timing it deploys with."""
    net = dense_net([4, 6, 5, 3])
    with torch.no_grad():
        for m in net.gamma_layers:
            m.bias.zero_()
    q, _ = quantize_network(net)
    x = events((4,), 30).long()
    xp = torch.cat([x, torch.zeros(4, 3, 4, dtype=torch.long)], 1)
    o0, s0, _ = FixedNetwork(q).run(xp, timing="zero")
    o1, s1, _ = FixedNetwork(q).run(xp, timing="lava")
    for layer, (a, b) in enumerate(zip(s0, s1)):
        assert torch.equal(b[:, layer + 1 :], a[:, : a.shape[1] - layer - 1])
    assert torch.equal(o1[:, 3:], o0[:, :-3])


def test_pool_folding_equals_pool_then_conv():
    net = conv_net()
    folded = fold_pooling(net)
    module, geo = folded[1]
    s = events((4, 8, 8), 1)[:, 0]
    pooled = s.reshape(4, 4, 4, 2, 4, 2).sum((3, 5))
    ref = fn.conv2d(pooled, module.weight.double(), None, module.stride, module.padding)
    got = fn.conv2d(s, geo["weight"], None, geo["stride"], geo["padding"])
    torch.testing.assert_close(got, ref)
    assert geo["in_shape"] == (4, 8, 8)


def test_calibration_keeps_dense_sums_inside_lavas_int32_accumulator():
    """64 hidden neurons fire together with payload theta0 = 1.0 (2^20 at 20 fraction
    bits) into weights of 1.0: the sum 64 * 2^20 * 2^7 would pass 2^31, where Lava's
    Dense wraps. Calibration keeps it below, with headroom (the sender's scale gives the
    bits, or the weight exponent)."""
    from sg_lava.reference.fixed import FixedNetwork
    from sg_lava.reference.quantize import quantize_network

    net = dense_net([2, 64, 3], K=2, theta0=1.0)
    with torch.no_grad():
        net.gamma_layers[0].weight.zero_()
        net.gamma_layers[0].bias.fill_(1.0)
        net.gamma_layers[1].weight.fill_(1.0)
    x = torch.zeros(1, 6, 2)
    q, _ = quantize_network(net, calibration=x)
    _, spikes, sat = FixedNetwork(q).run(q.quantize_input(x.numpy()))
    assert int((spikes[0] != 0).sum()) >= 64  # the whole layer fires
    assert (1, "synapse") not in sat.counts
    assert sat.peaks[(1, "synapse")] < 2**30


@pytest.mark.parametrize("per_synapse", [False, True], ids=["per-neuron", "per-synapse"])
def test_training_on_the_weight_grid_sees_exactly_the_exported_weights(per_synapse):
    """With ``weight_bits`` set, the forward pass applies the values sg-export writes
    (weight * 2**-(weight_exp + copy_exp)), and the gradient passes straight through."""
    net = spread_copies(dense_net([6, 12, 4], K=4, per_synapse=per_synapse))
    net.config["weight_bits"] = 6
    for m in net.gamma_layers:
        m.weight_bits = 6
    q, _ = quantize_network(net)
    assert q.spec.weight_bits == 6  # the export defaults to the width trained for
    for m, L in zip(net.gamma_layers, q.layers):
        w = m.synaptic_weight()
        exps = L.neuron.weight_exp + (
            L.neuron.copy_exp.reshape(-1, 1, 1) if L.neuron.copy_exp is not None else 0
        )
        exported = torch.as_tensor(L.weight * 2.0**-exps, dtype=w.dtype)
        assert torch.equal(w.detach(), exported)
        assert not torch.equal(w.detach(), (m.weight * (m.bucket_weight if per_synapse else 1)))
        w.sum().backward()
        assert torch.equal(m.weight.grad, (m.bucket_weight.sum(0) if per_synapse else
                                           torch.ones_like(m.weight)).detach())  # fmt: skip


def test_weight_bits_in_a_config_is_checked():
    with pytest.raises(ValueError, match="weight_bits must be an integer in \\[2, 16\\]"):
        GammaNetwork({"input_shape": [2], "layers": [{"type": "dense", "out_features": 2}],
                      "weight_bits": 1})  # fmt: skip


def test_calibration_limits_each_weight_copy_on_its_own_grid(monkeypatch):
    """As above, per synapse, with copies W * V^k whose values fall 4x per bucket. Each copy
    fills its own 8 bits, so each one's sums reach 2^31 alike. The sender's state scale
    gives the bit (the weights keep theirs); where it cannot, the calibrated limit lowers
    every copy's exponent by the same amount and the copies keep their own grids."""
    import sg_lava.reference.quantize as quantize

    net = dense_net([2, 64, 3], K=4, theta0=1.0, per_synapse=True)
    with torch.no_grad():
        net.gamma_layers[0].weight.zero_()
        net.gamma_layers[0].bias.fill_(1.0)
        net.gamma_layers[1].weight.fill_(1.0)
        net.gamma_layers[1].bucket_weight.copy_((4.0 ** -torch.arange(4.0)).view(4, 1, 1))
    x = torch.zeros(1, 6, 2)
    q, _ = quantize_network(net, calibration=x)
    free, _ = quantize_network(net)  # uncalibrated: the grids the weights alone ask for
    _, spikes, sat = FixedNetwork(q).run(q.quantize_input(x.numpy()))
    assert int((spikes[0] != 0).sum()) >= 64
    assert (1, "synapse") not in sat.counts and sat.peaks[(1, "synapse")] < 2**30
    assert q.layers[1].neuron.weight_exp == free.layers[1].neuron.weight_exp
    assert q.layers[1].neuron.copy_exp.tolist() == [0, 2, 4, 6]
    frac = q.layers[0].neuron.frac_bits
    monkeypatch.setattr(quantize, "MIN_FRAC_BITS", frac + 1)  # the sender cannot give it
    q, _ = quantize_network(net, calibration=x)
    _, spikes, sat = FixedNetwork(q).run(q.quantize_input(x.numpy()))
    assert q.layers[0].neuron.frac_bits == frac + 1
    assert (1, "synapse") not in sat.counts and sat.peaks[(1, "synapse")] < 2**30
    assert q.layers[1].neuron.weight_exp < free.layers[1].neuron.weight_exp  # the limit bit
    assert q.layers[1].neuron.copy_exp.tolist() == [0, 2, 4, 6]


def test_a_conv_after_a_conv_keeps_its_weights():
    """At the sender's finest state scale its spike payloads (about 2**17 here) would push
    the receiving Conv's sums past Lava's 24-bit accumulator unless its weights went 8 bits
    coarser: all of them rounded to 0. The sender's scale gives those bits instead."""
    from sg_lava.data.recipes import conv_config
    from sg_lava.model.grid import weight_exp
    from sg_lava.reference.quantize import MAX_FRAC_BITS

    torch.manual_seed(0)
    net = GammaNetwork(conv_config(16, (4, 8), 3, K=2, theta0=0.1)).eval()
    x = torch.poisson(torch.full((4, 12, *net.input_shape), 0.05))
    q, reports = quantize_network(net, calibration=x)
    wide, _ = quantize_network(net, spec=FixedPointSpec(state_bits=40), calibration=x)
    assert wide.layers[0].neuron.frac_bits == MAX_FRAC_BITS  # what the states alone allow
    assert q.layers[0].neuron.frac_bits < MAX_FRAC_BITS  # coarser, for the next layer
    folded = fold_pooling(net)[1][1]["weight"]
    assert q.layers[1].neuron.weight_exp == weight_exp(folded, q.spec.weight_bits)
    assert reports[1].weight_zeroed < 0.05
    from sg_lava.deploy.pipeline import ExportResult

    table = ExportResult(q, reports, None, [0.0] * 3).table()
    assert "warning" not in table
    reports[1].weight_zeroed = 1.0  # what the report said before: it now flags it
    assert (
        "warning: layer 1: 100% of its non-zero weights round to 0"
        in ExportResult(q, reports, None, [0.0] * 3).table()
    )
    xi = q.quantize_input(x.numpy())
    _, spikes, sat = FixedNetwork(q).run(xi)
    assert sat.counts[(1, "synapse")] == 0  # and the sums stay inside the accumulator
    assert float((spikes[1] != 0).double().mean()) > 0


def test_calibration_measures_exact_conv_sums_and_the_export_does_not_saturate():
    """The wide calibration run must not wrap conv sums as Lava's 24-bit Conv does: its
    wide payloads times wide weights pass any state width, and wrapped sums made every later
    peak garbage (a trained DVS model then saturated 179 % of its values on its own
    calibration inputs)."""
    from sg_lava.data.recipes import conv_config
    from sg_lava.model.grid import power_of_two_exp
    from sg_lava.reference.quantize import CALIBRATION_SPEC, MAX_FRAC_BITS, _quantize

    torch.manual_seed(0)
    net = GammaNetwork(conv_config(16, (4, 8), 3, K=2, theta0=0.5)).eval()
    with torch.no_grad():  # states large enough for the scale to be calibrated below 20
        for layer in net.gamma_layers[:2]:
            layer.weight.mul_(10)
    x = torch.poisson(torch.full((4, 12, *net.input_shape), 0.3))
    wide, _ = _quantize(net, fold_pooling(net), CALIBRATION_SPEC, [16] * 3, None)
    xw = wide.quantize_input(x.numpy())
    _, _, wrapped = FixedNetwork(wide).run(xw)
    _, _, exact = FixedNetwork(wide, wrap=False).run(xw)
    assert wrapped.counts[(1, "synapse")] > 0  # Lava's wrap would have hit this run
    assert exact.total == 0 and exact.peaks[(1, "synapse")] >= 2 ** (
        CALIBRATION_SPEC.state_bits - 1
    )
    q, _ = quantize_network(net, calibration=x)
    peak = max(v for (i, what), v in exact.peaks.items() if i == 1 and what != "synapse")
    limit = 2 ** (q.spec.state_bits - 1) - 1
    want = power_of_two_exp(2 * peak / 2**16, limit)
    assert q.layers[1].neuron.frac_bits == want < MAX_FRAC_BITS  # from the exact peaks
    _, spikes, sat = FixedNetwork(q).run(q.quantize_input(x.numpy()))
    assert sat.total == 0, dict(sat.counts)
    assert all(int((s != 0).sum()) > 100 for s in spikes)
