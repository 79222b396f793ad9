"""Where a network's class is read out, and the float model's class per sample.

The class of a sample is the argmax of the output summed over its readout window
(:func:`sg_lava.model.timing.predict`). Data that carries a window (a task's ``mask``) uses
its own; inputs without one are read out over :func:`readout_mask`, the one place that
says what a network's default window is.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps, predict, shift_mask


def readout_mask(net: GammaNetwork, n: int, steps: int) -> Tensor:
    """The readout window (n, steps) of inputs that carry none: the second half of each
    sample, as for user data (``docs/data.md``)."""
    return (torch.arange(steps) >= steps // 2).expand(n, steps).clone()


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
