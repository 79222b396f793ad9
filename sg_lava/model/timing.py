"""Time alignment of inputs, readout masks and predictions (torch).

A network run in Lava timing lags the equations by one step per synapse
(:func:`sg_lava.export.qnet.latency`); these helpers give a delayed run the steps it needs
and move the readout window with it, so that float, fixed-point and Lava runs are read
out at the same moments.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sg_lava.export import readout


def pad_steps(x: Tensor, steps: int) -> Tensor:
    """Append ``steps`` all-zero time steps so a delayed run loses nothing."""
    if steps == 0:
        return x
    return torch.cat([x, x.new_zeros(x.shape[0], steps, *x.shape[2:])], 1)


def fit_steps(x: Tensor, steps: int | None) -> Tensor:
    """Cut or zero-pad ``x`` (batch, T, ...) to ``steps`` time steps (None: unchanged)."""
    if steps is None or steps == x.shape[1]:
        return x
    if steps < x.shape[1]:
        return x[:, :steps]
    return pad_steps(x, steps - x.shape[1])


def shift_mask(mask: Tensor, steps: int) -> Tensor:
    """The readout mask delayed by ``steps`` (for Lava-aligned timing)."""
    if steps == 0:
        return mask
    return torch.cat([torch.zeros_like(mask[:, :steps]), mask], 1)


def predict(output: Tensor, mask: Tensor) -> Tensor:
    """Class per sample: argmax of the readout summed over the masked steps
    (:func:`sg_lava.export.readout.predict`, the rule ``sg-lava run`` applies too)."""
    out = output.detach().cpu().numpy()
    return torch.from_numpy(readout.predict(out, mask.cpu().numpy().astype(bool)))
