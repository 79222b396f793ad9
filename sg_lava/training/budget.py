"""What a training run will hold, counted before the first batch: a run whose batches would
not fit the memory budget (:mod:`sg_lava.limits`) is refused in one line naming what
sets the size (``--batch-size``, the steps per sample, the network), not killed later.
"""

from __future__ import annotations

import math

from sg_lava.data.streaming import VALIDATION_BATCH
from sg_lava.limits import check_memory
from sg_lava.model.layers import GammaLayer
from sg_lava.model.network import GammaNetwork

COPIES = 2  # each state value and its gradient: a lower bound of what autograd keeps


def state_values(net: GammaNetwork) -> int:
    """Values one sample's state holds per step: every gamma layer's buckets and pending
    input, its estimate, threshold and output, and per synapse the K copies' sums."""
    total = 0
    for module, (in_shape, out_shape) in zip(net.layers, net.shapes):
        if isinstance(module, GammaLayer):
            n_in, n_out = math.prod(in_shape), math.prod(out_shape)
            total += (module.K + 1) * n_in + (module.K + 3) * n_out
    return total


def check_training_memory(
    net: GammaNetwork, samples: int, steps: int, batch: int, mode: str
) -> None:
    """Refuse training whose batches (and validation batches) would not fit the budget.

    Online training keeps one step's graph; BPTT keeps the whole sequence's, and ridge
    (:mod:`sg_lava.training.ridge`) every step's buckets.
    """
    batch = min(batch, samples)
    inputs = math.prod(net.input_shape)
    graph_steps = 1 if mode == "online" else steps  # bptt, ridge: every step
    values = state_values(net)
    train = batch * (2 * steps * inputs + COPIES * graph_steps * values)
    valid = min(VALIDATION_BATCH, samples) * (2 * steps * inputs + values)
    neurons = sum(math.prod(out) for m, (_, out) in zip(net.layers, net.shapes) if isinstance(m, GammaLayer))  # fmt: skip
    check_memory(
        4 * max(train, valid),
        f"training ({mode}): batches of {batch} samples (--batch-size) x {steps} steps "
        f"through {neurons} neurons of K up to {max(m.K for m in net.gamma_layers)}",
    )
