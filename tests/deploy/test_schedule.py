"""Schedule mismatch measures: decision latency by hand, evaluation in both timings."""

from __future__ import annotations

import math

import torch

from sg_lava.data.tasks import delay_detection
from sg_lava.deploy.schedule import decision_latency, evaluate_in
from tests.helpers import dense_net


def test_decision_latency_by_hand():
    out = torch.zeros(4, 6, 2)
    out[0, 2] = torch.tensor([1.0, 0.0])  # wrong at 2, right from 3 on
    out[0, 3] = torch.tensor([0.0, 2.0])
    out[1, 2] = torch.tensor([1.0, 0.0])  # right from the start
    out[2, 2] = torch.tensor([0.0, 1.0])  # right, then wrong to the end
    out[2, 4] = torch.tensor([3.0, 0.0])
    out[3, 2] = torch.tensor([0.0, 1.0])  # right, wrong, right again from 4
    out[3, 3] = torch.tensor([3.0, 0.0])
    out[3, 4] = torch.tensor([0.0, 3.0])
    mask = torch.zeros(4, 6, dtype=torch.bool)
    mask[:, 2:] = True
    y = torch.tensor([1, 0, 1, 1])
    lat = decision_latency(out, mask, y, torch.full((4,), 2))
    assert lat[:2].tolist() == [1.0, 0.0] and math.isnan(lat[2]) and lat[3] == 2.0


def test_lag_counts_as_latency():
    out = torch.zeros(1, 8, 2)
    out[0, 4] = torch.tensor([0.0, 1.0])
    mask = torch.zeros(1, 8, dtype=torch.bool)
    mask[0, 4:] = True  # the readout of a run lagging by 2 steps
    assert decision_latency(out, mask, torch.tensor([1]), torch.tensor([2])).tolist() == [2.0]


def test_evaluate_in_both_timings():
    net = dense_net([2, 6, 3], K=3, timing="zero")
    assert net.lag("zero") == 0 and net.lag("lava") == 2
    data = delay_detection(12, seed=0, steps=30, delay=6, margin=3, max_delay=12)
    for timing in ("zero", "lava"):
        res = evaluate_in(net, data, timing)
        assert 0.0 <= res.accuracy <= 1.0 and res.spikes_per_sample >= 0
