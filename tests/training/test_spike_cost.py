"""The spike term of the loss (``--spike-cost``, ``--spike-target``): its value is the spike
rate a user reads, its gradient the documented hinge, and training with it spikes less."""

from __future__ import annotations

import pytest
import torch

from sg_lava.model import dynamics
from sg_lava.model.timing import pad_steps
from sg_lava.training.config import TrainConfig
from sg_lava.training.loop import float_scores, train
from sg_lava.training.steps import SpikeCost
from tests.helpers import dense_net
from tests.training.test_network_training import tiny_task


def test_spike_count_is_the_spikes_with_the_hinge_gradient():
    # theta = theta0 + m_f * y_prev = 0.1 + 0.5 * 0.2 = 0.2; p = alpha * e = 0.5 * 0.2 = 0.1
    y = torch.tensor([0.35, 0.15, 0.25], requires_grad=True)
    y_prev, estimate = torch.full((3,), 0.2), torch.full((3,), 0.2)
    alpha = torch.tensor(0.5)
    s, _ = dynamics.encoder_step(y.detach(), y_prev, estimate, 0.1, 0.5, alpha)
    c = dynamics.spike_count(y, s, y_prev, estimate, 0.1, 0.5, alpha)
    # y - p = 0.25, 0.05, 0.15 against theta/2 = 0.1: the first and the last fire
    assert c.tolist() == [1.0, 0.0, 1.0]
    c.sum().backward()
    torch.testing.assert_close(y.grad, torch.tensor([5.0, 0.0, 5.0]))  # 1/theta where it fires


def test_spike_term_is_the_rate_or_its_excess_over_the_target():
    count = torch.tensor(12.0)  # 12 spikes of 4 samples x 10 neurons in one of 5 steps
    assert float(SpikeCost(2.0).term(count, 4, 10, 5)) == pytest.approx(2.0 * 0.3 / 5)
    assert float(SpikeCost(2.0, 0.1).term(count, 4, 10, 5)) == pytest.approx(2.0 * 0.2 / 5)
    assert float(SpikeCost(2.0, 0.5).term(count, 4, 10, 5)) == 0.0


def test_the_networks_count_equals_its_spikes():
    net = dense_net([2, 8, 6, 3], K=3, theta0=0.05)
    x = pad_steps(tiny_task().x[:5], net.latency)
    out, spikes, counts = net(x, return_spikes=True, count=True)
    fired = sum((sp != 0).sum(dim=(0, 2)) for sp in spikes)  # per step, both hidden layers
    assert counts.tolist() == fired.double().tolist() and fired.sum() > 0
    assert net.hidden_neurons == 14


def test_spike_cost_refuses_nonsense():
    with pytest.raises(ValueError, match="spike_cost"):
        TrainConfig(spike_cost=-1.0)
    with pytest.raises(ValueError, match="spike_target"):
        TrainConfig(spike_cost=1.0, spike_target=float("nan"))
    with pytest.raises(ValueError, match="ridge"):
        TrainConfig(mode="ridge", spike_cost=1.0)
    with pytest.raises(ValueError, match="spike_target needs a spike_cost"):
        TrainConfig(spike_target=0.1)
    assert "spike_cost" not in TrainConfig().settings()  # old checkpoints still resume
    assert TrainConfig(spike_cost=0.5).settings()["spike_cost"] == 0.5


@pytest.mark.parametrize("mode", ["online", "bptt"])
def test_training_with_a_spike_cost_spikes_less(mode):
    data = tiny_task()
    rates = {}
    for cost in (0.0, 2.0):
        net = dense_net([2, 16, 3], K=4, theta0=0.02)
        cfg = TrainConfig(mode=mode, epochs=4, batch_size=32, lr=0.02, spike_cost=cost)
        hist = train(net, data, cfg, evaluate=lambda n: float_scores(n, data), progress=False)
        rates[cost] = hist[-1]["spikes_per_neuron_step"]
        assert hist[-1]["synops_per_inference"] > 0
    assert rates[2.0] < 0.9 * rates[0.0], rates  # 0.35 against 0.43 here


def test_equal_accuracy_at_fewer_spikes_is_the_better_epoch_only_with_a_spike_cost():
    from sg_lava.training.loop import better_epoch

    best = {"accuracy": 0.9, "spikes_per_neuron_step": 0.3}
    sparser = {"accuracy": 0.9, "spikes_per_neuron_step": 0.1}
    assert better_epoch(sparser, best, sparser=True)
    assert not better_epoch(sparser, best, sparser=False)  # without a cost: the first best
    assert not better_epoch({"accuracy": 0.89, "spikes_per_neuron_step": 0.01}, best, True)
    assert better_epoch({"accuracy": 0.91, "spikes_per_neuron_step": 0.5}, best)
    assert better_epoch(sparser, None)


def test_the_command_line_refuses_a_target_without_a_cost(tmp_path, capsys):
    from sg_lava.cli import main

    out = str(tmp_path / "m.pt")
    assert main(["train", "delay", "--out", out, "--spike-target", "0.1"]) == 1
    assert "give both" in capsys.readouterr().err
    assert main(["train", "delay", "--out", out, "--mode", "ridge", "--spike-cost", "1"]) == 1
    assert "needs gradient training" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
