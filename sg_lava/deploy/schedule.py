"""What a model does under an execution schedule: accuracy, spikes and decision latency.

A model trained in one ``timing`` (``zero``: the equations; ``lava``: one step per
synapse, as Loihi runs it) can be run in the other; Koopman et al. ("Overcoming the
limitations of layer synchronization in spiking neural networks") show that such a
schedule mismatch costs accuracy. These functions measure it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sg_lava.data.tasks import TaskData
from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps, predict, shift_mask


@dataclass
class ScheduleResult:
    """One model evaluated in one timing."""

    accuracy: float
    spikes_per_sample: float
    latency: float  # mean decision latency (steps after the decisive event), correct samples


def running_prediction(output: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Class per sample and step from the readout summed over the masked steps so far.

    Returns ``(pred, defined)`` (n, T): ``defined`` is False until a masked step arrived.
    """
    acc = (output * mask.unsqueeze(-1).to(output.dtype)).cumsum(1)
    return acc.argmax(-1), mask.cumsum(1) > 0


def decision_latency(output: Tensor, mask: Tensor, y: Tensor, start: Tensor) -> Tensor:
    """First step (after ``start``) from which the running prediction stays correct.

    ``output`` (n, T, classes), ``mask`` (n, T) the readout steps, ``start`` (n,) the step
    at which the decisive event arrived. Returns (n,) float: the latency in steps, NaN
    when the prediction is wrong at the last masked step.
    """
    pred, defined = running_prediction(output, mask)
    T = output.shape[1]
    last = T - 1 - mask.flip(1).to(torch.int64).argmax(1)  # last masked step
    t = torch.arange(T).unsqueeze(0)
    wrong = (~defined | (pred != y.unsqueeze(1))) & (t <= last.unsqueeze(1))
    # the last wrong step before the end of the readout (or start - 1 if never wrong)
    last_wrong = torch.where(wrong, t, torch.full_like(t, -1)).amax(1)
    first_right = torch.maximum(last_wrong + 1, start)
    lat = (first_right - start).to(torch.float64)
    return torch.where(last_wrong >= last, torch.full_like(lat, float("nan")), lat)


@torch.no_grad()
def evaluate_in(net: GammaNetwork, data: TaskData, timing: str, batch: int = 256):
    """Accuracy, hidden spikes per sample and mean decision latency of ``net`` in ``timing``."""
    net.eval()
    lag = net.lag(timing)
    correct, spikes, lats = 0, 0.0, []
    for x, y, mask in data.batches(batch):
        out, hidden = net(pad_steps(x, lag), timing=timing, return_spikes=True)
        shifted = shift_mask(mask, lag)
        correct += int((predict(out, shifted) == y).sum())
        spikes += float(sum((s != 0).sum() for s in hidden))
        start = mask.to(torch.int64).argmax(1)
        lats.append(decision_latency(out, shifted, y, start))
    lat = torch.cat(lats)
    ok = ~lat.isnan()
    mean_lat = float(lat[ok].mean()) if ok.any() else float("nan")
    return ScheduleResult(correct / len(data), spikes / len(data), mean_lat)
