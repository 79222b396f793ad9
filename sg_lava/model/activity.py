"""How much a float network spikes, and the synaptic operations its events cost.

Loihi 2 pays for events: every non-zero payload into a synapse costs one operation per
connection it reaches (its fan-out). :func:`fanouts` finds each synapse's fan-out map by
differentiating the layer's own synapse with all-one weights (pooling and flattening in
between included), so it follows whatever geometry a layer has; it equals
:func:`sg_lava.export.plan.fanout_map` of the exported file (``tests/model/test_activity.py``).
:func:`measure` counts the spikes and operations of a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from sg_lava.model.layers import GammaLayer
from sg_lava.model.network import GammaNetwork


@torch.no_grad()
def _ones_like_weight(layer: GammaLayer) -> Tensor:
    """All-one synaptic weights of the layer's geometry (K copies per synapse)."""
    w = torch.ones_like(layer.weight)
    return w.unsqueeze(0).expand(layer.K, *w.shape) if layer.per_synapse else w


@torch.enable_grad()  # a gradient, also when called under no_grad
def fanouts(net: GammaNetwork) -> list[Tensor]:
    """Per gamma layer, the connections each element of its event source reaches: the
    network input for the first layer, the layer below's neurons for the others."""
    out, modules = [], list(net.layers)
    start, shape = 0, tuple(net.input_shape)
    for i, module in enumerate(modules):
        if not isinstance(module, GammaLayer):
            continue
        s = torch.zeros(1, *shape, requires_grad=True)
        t = s
        for between in modules[start:i]:  # pooling, flattening: linear, no neurons
            t = between(t)
        w = _ones_like_weight(module)
        if module.per_synapse:  # K copies: K synapses each
            reached = sum(module.synapse(t, w[k]).sum() for k in range(module.K))
        else:
            reached = module.synapse(t, w).sum()
        (grad,) = torch.autograd.grad(reached, s)
        out.append(grad[0].round().to(torch.int64))
        start, shape = i + 1, net.shapes[i][1]
    return out


@dataclass
class Activity:
    """Events of a run, per sample and step where it says so."""

    spikes_per_neuron_step: list[float]  # per hidden layer
    synops_per_inference: list[float]  # per synapse layer, input events x fan-out
    steps: int
    samples: int
    total_spikes_per_neuron_step: float = field(default=0.0)

    @property
    def total_synops(self) -> float:
        return float(sum(self.synops_per_inference))

    def as_dict(self) -> dict:
        return {
            "spikes_per_neuron_step": self.spikes_per_neuron_step,
            "total_spikes_per_neuron_step": self.total_spikes_per_neuron_step,
            "synops_per_inference": self.synops_per_inference,
            "total_synops_per_inference": self.total_synops,
        }


def synaptic_ops(events: np.ndarray, fanout: np.ndarray) -> int:
    """Synaptic operations of events (B, T, *shape) into a synapse: every non-zero payload
    times the fan-out of the element that sent it, summed."""
    fired = np.count_nonzero(events.reshape(events.shape[0], events.shape[1], -1), axis=(0, 1))
    return int((fired * fanout.reshape(-1)).sum())


def measure(sources: list[Tensor], fans: list[Tensor]) -> Activity:
    """Counts of one run: ``sources[g]`` (B, T, *shape) are the events into gamma layer g
    (the encoded input, then each hidden layer's spikes), ``fans`` their fan-out maps."""
    B, T = sources[0].shape[:2]
    synops = [synaptic_ops(np.asarray(src), np.asarray(fan)) / B for src, fan in zip(sources, fans)]
    hidden = sources[1:]
    rates = [float((h != 0).sum()) / (B * T * h[0, 0].numel()) for h in hidden]
    neurons = [h[0, 0].numel() for h in hidden]
    total = sum(r * n for r, n in zip(rates, neurons)) / max(sum(neurons), 1)
    return Activity(rates, synops, T, B, total)


def combine(parts: list[Activity]) -> Activity:
    """The activity of several batches together (weighted by their samples)."""
    n = sum(a.samples for a in parts)

    def mean(values: list[list[float]], weights: list[int]) -> list[float]:
        return [
            sum(v * w for v, w in zip(col, weights)) / max(sum(weights), 1) for col in zip(*values)
        ]

    sizes = [a.samples for a in parts]
    return Activity(
        mean([a.spikes_per_neuron_step for a in parts], sizes),
        mean([a.synops_per_inference for a in parts], sizes),
        parts[0].steps,
        n,
        sum(a.total_spikes_per_neuron_step * w for a, w in zip(parts, sizes)) / max(n, 1),
    )
