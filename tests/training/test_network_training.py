"""Network container, online/BPTT training, tasks and the model file."""

from __future__ import annotations

import pickle

import pytest
import torch

from sg_lava.data.tasks import coincidence_detection, delay_detection
from sg_lava.errors import UserError
from sg_lava.model import dynamics
from sg_lava.model.modelfile import MODEL_VERSION, load_model, read_model_file, save_model
from sg_lava.model.network import GammaNetwork
from sg_lava.training.config import TrainConfig
from sg_lava.training.loop import train
from sg_lava.training.steps import train_batch_online
from tests.helpers import conv_net, dense_net, events


def test_network_returns_every_layers_spikes_with_shapes():
    net = conv_net()
    out, spikes = net(events((2, 8, 8), 7, dtype=torch.float32), return_spikes=True)
    assert out.shape == (4, 7, 3)
    assert [tuple(s.shape) for s in spikes] == [(4, 7, 4, 8, 8), (4, 7, 3, 2, 2)]
    assert all((s >= 0).all() for s in spikes)


def test_lava_timing_delays_each_layer_by_one_step():
    net = dense_net([2, 4, 3])
    with torch.no_grad():
        for m in net.gamma_layers:
            m.bias.zero_()
            m.weight.fill_(1.0)
            m.bucket_weight.fill_(1.0)
    x = torch.zeros(1, 6, 2)
    x[0, 0] = 1.0
    first = {}
    for timing in ("zero", "lava"):
        with torch.no_grad():
            out, (hidden,) = net(x, timing=timing, return_spikes=True)
        first[timing] = (
            int(hidden[0].sum(-1).nonzero()[0]),
            int(out[0].abs().sum(-1).nonzero()[0]),
        )
    assert first == {"zero": (0, 0), "lava": (1, 2)}


def test_alpha_stays_in_open_unit_interval():
    net = dense_net([3, 4, 2])
    with torch.no_grad():
        net.gamma_layers[0].alpha_logit.fill_(50.0)
        net.gamma_layers[1].alpha_logit.fill_(-50.0)
    a0, a1 = net.gamma_layers[0].alpha, net.gamma_layers[1].alpha
    assert (a0 <= 1).all() and (a1 >= 0).all()
    assert torch.isfinite(a0).all()


def test_online_weight_gradient_is_local_in_time():
    """One output layer, zero timing: d x_j / d W_ji at step t = sum_k v_jk * B_i^k(t),
    where B are the presynaptic buckets — exact, with no history of gradients."""
    net = dense_net([3, 2], K=2, timing="zero").double()
    layer = net.gamma_layers[0]
    x = events((3,), 5, batch=1)
    states = net.initial_state(1)
    pre = torch.zeros(1, 2, 3, dtype=torch.float64)
    for t in range(5):
        states = [s.detached() for s in states]
        states = [type(s)(s.buckets.double(), s.estimate, s.y_prev, s.pending) for s in states]
        net.zero_grad()
        res, states = net.step(x[:, t], states)
        res.output[0, 1].backward()
        pre = dynamics.bucket_step(pre, x[:, t], layer.alpha.detach())
        expected = (layer.bucket_weight.detach()[:, 1:2] * pre[0]).sum(0)
        torch.testing.assert_close(layer.weight.grad[1], expected)
        assert layer.weight.grad[0].abs().sum() == 0


def tiny_task():
    return delay_detection(64, seed=3, steps=30, delay=6, margin=3, max_delay=12)


@pytest.mark.parametrize("mode", ["online", "bptt"])
def test_training_reduces_the_loss(mode):
    torch.manual_seed(0)
    net = dense_net([2, 16, 3], K=4)
    data = tiny_task()
    hist = train(
        net,
        data,
        TrainConfig(mode=mode, epochs=6, batch_size=32, lr=0.02, credit="step"),
        progress=False,
    )
    assert hist[-1]["loss"] < hist[0]["loss"]


def test_online_loss_equals_bptt_loss_before_any_update():
    """Same forward pass: the losses of one batch agree; only gradients differ."""
    net = dense_net([2, 8, 3], K=3)
    data = tiny_task()
    x, y, mask = data.x[:16], data.y[:16], data.mask[:16]
    from sg_lava.model.timing import pad_steps, shift_mask
    from sg_lava.training.steps import train_batch_bptt

    x, mask = pad_steps(x, net.latency), shift_mask(mask, net.latency)
    a = train_batch_online(net, x, y, mask, "ce", 3)
    b = train_batch_bptt(net, x, y, mask, "ce", 3)
    assert a == pytest.approx(b, rel=1e-5)


def per_step_gradients(net, x, y, mask):
    """Online gradients the plain way: every step rebuilds alpha and the weights."""
    from sg_lava.training.steps import step_loss

    states = net.initial_state(x.shape[0])
    total = mask.sum()
    for t in range(x.shape[1]):
        states = [s.detached() for s in states]
        res, states = net.step(x[:, t], states)
        if mask[:, t].any():
            m = mask[:, t]
            (step_loss(res.output[m], y[m], "ce", 3) / total).backward()
    return {k: p.grad.clone() for k, p in net.named_parameters()}


@pytest.mark.parametrize("per_synapse", [False, True])
def test_held_parameters_give_the_per_step_gradients(per_synapse):
    """Online training computes alpha and the (8-bit grid) weights once per batch: the
    gradients equal those of rebuilding them every step, and BPTT's are unchanged."""
    from sg_lava.model.timing import pad_steps, shift_mask
    from sg_lava.training.steps import train_batch_bptt

    net = dense_net([2, 6, 3], K=3, per_synapse=per_synapse).double()
    for m in net.gamma_layers:
        m.weight_bits = 8
    data = tiny_task()
    x, y, mask = data.x[:8].double(), data.y[:8], data.mask[:8]
    x, mask = pad_steps(x, net.latency), shift_mask(mask, net.latency)
    expected = per_step_gradients(net, x, y, mask)
    net.zero_grad()
    train_batch_online(net, x, y, mask, "ce", 3)
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], rtol=1e-12, atol=1e-15, msg=name)
        assert p.grad.abs().sum() > 0, name
    assert all(m.held is None for m in net.gamma_layers)  # released after the batch
    net.zero_grad()
    train_batch_bptt(net, x, y, mask, "ce", 3)
    held = {k: p.grad.clone() for k, p in net.named_parameters()}
    net.zero_grad()
    out = torch.stack(  # BPTT without holding: the loop of GammaNetwork.forward
        [r.output for r in bptt_steps(net, x)], 1
    )
    from sg_lava.training.steps import step_loss

    flat = out.reshape(-1, 3)[mask.reshape(-1)]
    labels = y.unsqueeze(1).expand_as(mask).reshape(-1)[mask.reshape(-1)]
    (step_loss(flat, labels, "ce", 3) / mask.sum()).backward()
    for name, p in net.named_parameters():
        torch.testing.assert_close(held[name], p.grad, rtol=1e-12, atol=1e-15, msg=name)


def bptt_steps(net, x):
    states = net.initial_state(x.shape[0])
    for t in range(x.shape[1]):
        res, states = net.step(x[:, t], states)
        yield res


def test_held_parameters_are_released_when_a_step_fails():
    net = dense_net([2, 4, 3], K=2)
    with pytest.raises(RuntimeError), net.held_parameters(per_step_backward=True):
        assert all(m.held is not None for m in net.gamma_layers)
        raise RuntimeError("a step failed")
    assert all(m.held is None for m in net.gamma_layers) and all(
        p.grad is None for p in net.parameters()
    )


def test_delay_task_has_the_documented_classes():
    d = delay_detection(300, seed=0, steps=60, delay=12, margin=5, max_delay=30)
    t_a = d.x[:, :, 0].argmax(1)
    t_b = d.x[:, :, 1].argmax(1)
    assert d.x.sum((1, 2)).eq(2).all()
    assert ((t_b - t_a)[d.y == 0] == 12).all()
    gap1 = (t_b - t_a)[d.y == 1]
    assert ((gap1 > 0) & ((gap1 - 12).abs() >= 5)).all()
    assert (t_b < t_a)[d.y == 2].all()
    assert torch.equal(d.mask.float().argmax(1), torch.maximum(t_a, t_b))
    assert d.mask.sum(1).eq(10).all()
    assert sorted(torch.bincount(d.y).tolist()) == [100, 100, 100]


def test_tasks_are_reproducible_from_the_seed():
    a, b, c = (coincidence_detection(20, seed=s) for s in (4, 4, 5))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


def test_coincidence_right_channel_is_the_left_shifted_by_the_itd():
    d = coincidence_detection(50, seed=1, steps=40, itds=(-4, 0, 4))
    for i in range(50):
        itd = (-4, 0, 4)[int(d.y[i])]
        left, right = d.x[i, :, 0], d.x[i, :, 1]
        if itd >= 0:
            assert torch.equal(right[itd:], left[: 40 - itd])
        else:
            assert torch.equal(right[:itd], left[-itd:])


def test_model_file_round_trip_with_weights_only(tmp_path):
    net = conv_net(per_synapse=True)
    path = tmp_path / "model.pt"
    save_model(net, path, task={"name": "x"}, train={"mode": "online"})
    payload = torch.load(path, weights_only=True)
    assert payload["version"] == MODEL_VERSION and payload["config"]["per_synapse"] is True
    net2, _ = load_model(path)
    x = events((2, 8, 8), 5)
    with torch.no_grad():
        torch.testing.assert_close(net2(x.float()), net(x.float()))
    assert not list(tmp_path.glob(".*.tmp"))


def test_model_file_refuses_code_and_garbage(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "sg-lava-model", "x": Evil()}, evil)
    with pytest.raises(UserError, match="safe load refuses"):
        read_model_file(evil)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a readable model"):
        read_model_file(junk)
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(UserError):
        read_model_file(raw)
    future = tmp_path / "future.pt"
    torch.save({"format": "sg-lava-model", "version": 99, "config": {}, "state_dict": {}}, future)
    with pytest.raises(UserError, match="version 99"):
        read_model_file(future)
    with pytest.raises(UserError, match="not found"):
        read_model_file(tmp_path / "missing.pt")


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="flat input"):
        GammaNetwork({"input_shape": [2, 4, 4], "layers": [{"type": "dense", "out_features": 2}]})
    with pytest.raises(ValueError, match="timing"):
        GammaNetwork(
            {"input_shape": [2], "layers": [{"type": "dense", "out_features": 2}], "timing": "x"}
        )
