"""Spikes and synaptic operations of the float model, counted as Loihi 2 pays for them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sg_lava.export.plan import fanout_map
from sg_lava.model.activity import fanouts, measure
from sg_lava.reference.quantize import quantize_network
from tests.helpers import conv_net, dense_net


def test_a_dense_fanout_is_its_outputs_times_its_copies():
    fans = fanouts(dense_net([3, 5, 2], K=4, per_synapse=True))
    assert [f.tolist() for f in fans] == [[20, 20, 20], [8] * 5]


@pytest.mark.parametrize(
    "net", [conv_net(K=2), conv_net(K=2, pool=False), conv_net(K=3, per_synapse=True, pool=False)]
)
def test_fanouts_equal_the_exported_files_pool_and_copies_included(net):
    q, _ = quantize_network(net)  # pooling folded into the next conv on export
    for fan, layer in zip(fanouts(net), q.layers):
        assert np.array_equal(fan.numpy().ravel(), fanout_map(layer).ravel())


def test_measure_counts_events_times_fanout_per_sample():
    fans = [torch.tensor([2, 3]), torch.tensor([5, 5, 5])]
    x = torch.zeros(2, 4, 2)
    x[0, 0, 0] = x[1, 2, 1] = 0.5  # two input events: fan-out 2 and 3
    h = torch.zeros(2, 4, 3)
    h[0, :, 0] = 1.0  # 4 spikes of hidden neuron 0 in sample 0
    act = measure([x, h], fans)
    assert act.synops_per_inference == [2.5, 10.0]  # (2 + 3) / 2 samples, 4 * 5 / 2
    assert act.spikes_per_neuron_step == [4 / (2 * 4 * 3)]
    assert act.total_synops == 12.5
