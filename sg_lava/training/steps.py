"""One batch of training: the online and the BPTT gradient of a :class:`GammaNetwork`.

Online (the paper's point): a loss at every masked step, gradients through the current
step only. The bucket states carry the history and enter each step as constants, so
memory does not grow with the sequence; the spike code is the identity in the backward
pass (:func:`sg_lava.model.dynamics.straight_through`). ``credit`` other than ``step``
adds forward-mode traces (:mod:`sg_lava.training.credit`). Gradients of all steps of a
batch are summed and applied once per batch. BPTT runs the same forward pass with the
graph kept over the whole sequence.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as fn
from torch import Tensor, nn

from sg_lava.model.network import GammaNetwork, LayerState, StepResult
from sg_lava.training.config import DEFAULT_TRACE_BUDGET_MB
from sg_lava.training.credit import TracedCredit


def step_loss(output: Tensor, y: Tensor, kind: str, n_classes: int) -> Tensor:
    """Summed loss of one step's readout (batch, classes) against labels."""
    if kind == "ce":
        return fn.cross_entropy(output, y, reduction="sum")
    target = fn.one_hot(y, n_classes).to(output.dtype)
    return fn.mse_loss(output, target, reduction="sum")


@dataclass(frozen=True)
class SpikeCost:
    """The loss's spike term: ``cost`` x the hidden spikes per neuron per step, or with a
    ``target`` R, ``cost`` x the excess of each step's rate over R."""

    cost: float
    target: float | None = None

    def term(self, count: Tensor, batch: int, neurons: int, steps: int) -> Tensor:
        """One step's share of the term: ``count`` is the step's differentiable spike count
        over the batch (:func:`sg_lava.model.dynamics.spike_count`); the shares of the
        ``steps`` steps sum to the term of the sequence."""
        rate = count / (batch * max(neurons, 1))
        if self.target is not None:
            rate = torch.relu(rate - self.target)
        return self.cost * rate / steps


class Stepper(nn.Module):
    """One time step of a network as a ``forward``, so that DDP can wrap online training."""

    def __init__(self, net: GammaNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, s: Tensor, states: list[LayerState], count: bool = False
    ) -> tuple[StepResult, list[LayerState]]:
        return self.net.step(s, states, count=count)


def train_batch_online(
    net: GammaNetwork,
    x: Tensor,
    y: Tensor,
    mask: Tensor,
    loss: str,
    n_classes: int,
    norm: float | None = None,
    ddp: nn.Module | None = None,
    credit: str = "step",
    budget_mb: float = DEFAULT_TRACE_BUDGET_MB,
    spikes: SpikeCost | None = None,
) -> float:
    """Accumulate the gradients of one batch step by step; returns the mean loss.

    ``norm`` divides the summed loss (default: this batch's masked steps). With ``ddp``
    (a DistributedDataParallel :class:`Stepper`) every step but the last runs under
    ``no_sync``; the last one, which every rank runs, sums the accumulated gradients.
    ``credit`` ``alpha`` or ``traces`` carries forward-mode traces (``ddp`` must then be
    None: the trainer averages those gradients over the ranks itself). ``spikes`` adds the
    spike term, each step's share with that step's loss.
    """
    traced = None if credit == "step" else TracedCredit(net, x.shape[0], credit, budget_mb, x)
    if traced is not None and ddp is not None:
        raise ValueError("traced credit averages its gradients itself: no ddp")
    x = net.encode_input(x)
    states = net.initial_state(x.shape[0], x.device)
    total = mask.sum().clamp(min=1) if norm is None else norm
    value = 0.0
    T = x.shape[1]
    # DDP reduces the gradients as the last step's backward produces them: not held
    with net.held_parameters(per_step_backward=True) if ddp is None else nullcontext():
        for t in range(T):
            sync = ddp is None or t == T - 1
            with nullcontext() if sync else ddp.no_sync():
                states = [s.detached() for s in states]
                count = spikes is not None
                if ddp is not None:
                    res, states = ddp(x[:, t], states, count)
                else:
                    res, states = net.step(x[:, t], states, credit=traced, count=count)
                m = mask[:, t]
                if m.any():
                    lt = step_loss(res.output[m], y[m], loss, n_classes) / total
                elif (ddp is not None and sync) or res.count is not None:
                    lt = res.output.sum() * 0.0  # every rank joins the gradient sum
                else:
                    continue
                if res.count is not None:
                    lt = lt + spikes.term(res.count, x.shape[0], net.hidden_neurons, T)
                # the spike term reaches this step's hidden graphs, which the next step's
                # loss still passes through (Lava timing: the pending spike keeps its graph)
                lt.backward(retain_graph=res.count is not None)
                value += float(lt.detach())
    return value


def train_batch_bptt(
    net: GammaNetwork,
    x: Tensor,
    y: Tensor,
    mask: Tensor,
    loss: str,
    n_classes: int,
    norm: float | None = None,
    ddp: nn.Module | None = None,
    spikes: SpikeCost | None = None,
) -> float:
    """Backpropagate through the whole sequence of one batch; returns the mean loss."""
    if spikes is None:
        out = (ddp or net)(x)
    else:
        out, counts = (ddp or net)(x, count=True)
    m = mask.reshape(-1)
    flat = out.reshape(-1, out.shape[-1])[m]
    labels = y.unsqueeze(1).expand_as(mask).reshape(-1)[m]
    total = m.sum().clamp(min=1) if norm is None else norm
    lt = step_loss(flat, labels, loss, n_classes) / total
    if spikes is not None:  # every step's share at once (the term is elementwise)
        lt = lt + spikes.term(counts, x.shape[0], net.hidden_neurons, counts.shape[0]).sum()
    lt.backward()
    return float(lt.detach())
