"""Forward-mode traces: exact online credit within a layer and across one boundary."""

from __future__ import annotations

import pytest
import torch

from sg_lava.model import dynamics
from sg_lava.model.timing import pad_steps, shift_mask
from sg_lava.training import traces
from sg_lava.training.config import TrainConfig
from sg_lava.training.credit import TracedCredit, traced_boundaries
from sg_lava.training.loop import train
from sg_lava.training.steps import train_batch_bptt, train_batch_online
from tests.helpers import dense_net, events


def test_alpha_trace_of_one_pulse_is_the_derivative_of_its_powers():
    """A unit pulse at t=0: B^1(t) = a1^t, so dB^1/da1 = t a1^(t-1);
    B^2(t) = (1-a2) sum_{s<t} a2^(t-1-s) a1^s, differentiated by hand for t = 2."""
    a1, a2 = 0.6, 0.3
    alpha = torch.tensor([a1, a2], dtype=torch.float64)
    b = torch.zeros(1, 2, 1, dtype=torch.float64)
    e = torch.zeros(1, 2, 2, 1, dtype=torch.float64)
    for t in range(6):
        drive = torch.ones(1, 1, dtype=torch.float64) * (t == 0)
        e = traces.alpha_trace_step(e, b, alpha)
        b = dynamics.bucket_step(b, drive, alpha)
        assert float(e[0, 0, 0, 0]) == pytest.approx(t * a1 ** max(t - 1, 0))
        assert float(e[0, 1, 0, 0]) == 0.0  # bucket 1 does not depend on a2
        if t == 2:  # B^2(2) = (1 - a2)(a2 + a1)
            assert float(e[0, 0, 1, 0]) == pytest.approx(1 - a2)
            assert float(e[0, 1, 1, 0]) == pytest.approx(-(a2 + a1) + (1 - a2))


def test_inject_is_zero_with_the_trace_as_gradient():
    w = torch.randn(3, 4, requires_grad=True)
    trace = torch.randn(2, 5, 3, 4)
    term = traces.inject([(w, trace, "bkji,ji->bkj")], (2, 5, 3))
    assert term.abs().max() == 0 and term.shape == (2, 5, 3)
    term.sum().backward()
    torch.testing.assert_close(w.grad, trace.sum((0, 1)))


def gradients(net, fn, x, y, mask, **kw):
    net.zero_grad()
    fn(net, x, y, mask, "ce", 2, **kw)
    return {n: p.grad.clone() for n, p in net.named_parameters()}


def batch(net, T=14):
    x = events((3,), T, batch=4)
    y = torch.tensor([0, 1, 1, 0])
    mask = torch.rand(4, T, generator=torch.Generator().manual_seed(0)) < 0.6
    return pad_steps(x, net.latency), y, shift_mask(mask, net.latency)


def max_error(a, b):
    return {n: float((a[n] - b[n]).abs().max() / b[n].abs().max().clamp(min=1e-12)) for n in b}


@pytest.mark.parametrize("timing", ["zero", "lava"])
def test_single_layer_online_gradient_equals_bptt(timing):
    """Every parameter, float64: the per-step loss summed over steps, both ways."""
    net = dense_net([3, 2], K=3, timing=timing).double()
    x, y, mask = batch(net)
    bptt = gradients(net, train_batch_bptt, x, y, mask)
    online = gradients(net, train_batch_online, x, y, mask, credit="alpha")
    assert max(max_error(online, bptt).values()) < 1e-6
    step = gradients(net, train_batch_online, x, y, mask, credit="step")
    err = max_error(step, bptt)
    assert err["layers.0.alpha_logit"] > 1e-3  # without traces alpha sees one step
    assert max(v for n, v in err.items() if "alpha" not in n) < 1e-6


@pytest.mark.parametrize("timing", ["zero", "lava"])
def test_two_layer_online_gradient_equals_bptt_with_cross_traces(timing):
    net = dense_net([3, 5, 2], K=3, timing=timing).double()
    x, y, mask = batch(net)
    bptt = gradients(net, train_batch_bptt, x, y, mask)
    online = gradients(net, train_batch_online, x, y, mask, credit="traces")
    assert max(max_error(online, bptt).values()) < 1e-6
    alpha_only = gradients(net, train_batch_online, x, y, mask, credit="alpha")
    assert max_error(alpha_only, bptt)["layers.0.weight"] > 1e-3


def test_traced_forward_pass_is_the_network_step():
    """The traces change gradients only: outputs equal GammaNetwork.forward."""
    net = dense_net([3, 5, 4, 2], K=3)
    x, y, mask = batch(net)
    credit = TracedCredit(net, 4, "traces")
    assert credit.plan == [False, True, True]
    states = net.initial_state(4)
    outs = []
    for t in range(x.shape[1]):
        res, states = net.step(x[:, t].float(), states, credit=credit)
        states = [s.detached() for s in states]
        outs.append(res.output.detach())
    with torch.no_grad():
        torch.testing.assert_close(torch.stack(outs, 1), net(x.float()))


def test_budget_turns_cross_traces_off():
    net = dense_net([3, 5, 2], K=3)
    assert traced_boundaries(net, 4, "traces") == [False, True]
    assert traced_boundaries(net, 4, "traces", budget_mb=0.0) == [False, False]
    assert traced_boundaries(net, 4, "alpha") == [False, False]
    with pytest.raises(ValueError, match="credit"):
        traced_boundaries(net, 4, "nope")


def test_train_with_traces_reduces_the_loss():
    from sg_lava.data.tasks import delay_detection

    torch.manual_seed(0)
    net = dense_net([2, 8, 3], K=3)
    data = delay_detection(32, seed=3, steps=20, delay=4, margin=2, max_delay=6, window=4)
    cfg = TrainConfig(epochs=4, batch_size=32, lr=0.05, credit="traces")
    hist = train(net, data, cfg, progress=False)
    assert hist[-1]["loss"] < hist[0]["loss"]
