"""Where a network's class is read out, and the float model's class per sample.

The class of a sample is the argmax of the output summed over its readout window
(:func:`sg_lava.model.timing.predict`). Data that carries a window (a task's ``mask``) uses
its own; inputs without one are read out over :func:`readout_mask`, the window the
network's ``readout`` setting gives (:mod:`sg_lava.export.readout`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sg_lava.errors import UserError
from sg_lava.export import readout
from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps, predict, shift_mask


def readout_mask(
    net: GammaNetwork,
    n: int,
    steps: int,
    lengths: np.ndarray | None = None,
    rule: str | float | None = None,
) -> Tensor:
    """The readout window (n, steps) bool of inputs that carry none: the network's
    ``readout`` setting (or ``rule``) applied to ``steps`` (``lengths``: each sample's own).
    A network read out over its task's own window has no rule: the window must be given."""
    rule = net.config["readout"] if rule is None else rule
    if rule == "task":
        raise UserError(
            "the network is read out over its task's own window (readout 'task'): give the "
            "window (mask=, or data that carries it)"
        )
    return torch.from_numpy(readout.readout_mask(rule, n, steps, lengths))


@torch.no_grad()
def float_readout(net: GammaNetwork, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """The float model's output on ``x`` (batch, T, *input_shape) in its own timing, on the
    CPU, and ``mask`` moved by the network's latency to match it."""
    lag = net.latency
    device = next(net.parameters()).device
    return net(pad_steps(x, lag).to(device)).cpu(), shift_mask(mask, lag)


def float_classes(net: GammaNetwork, x: Tensor, mask: Tensor, batch_size: int = 256) -> Tensor:
    """Class per sample of ``x`` read out over ``mask`` (n, T), in batches."""
    net.eval()
    parts = [
        predict(*float_readout(net, x[i : i + batch_size], mask[i : i + batch_size]))
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(parts)
