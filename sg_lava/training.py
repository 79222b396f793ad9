"""Online and BPTT training of a :class:`GammaNetwork`, and readout accuracy.

Online (the paper's point): a loss at every masked step, gradients through the current
step only. The bucket states carry the history and enter each step as constants, so
memory does not grow with the sequence; the spike code is the identity in the backward
pass (:func:`sg_lava.dynamics.straight_through`). Gradients of all steps of a batch are
summed and applied once per batch. BPTT runs the same forward pass with the graph kept
over the whole sequence.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as fn
from torch import Tensor
from tqdm import tqdm

from sg_lava.network import GammaNetwork
from sg_lava.tasks import TaskData

MODES = ("online", "bptt")
LOSSES = ("ce", "mse")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def step_loss(output: Tensor, y: Tensor, kind: str, n_classes: int) -> Tensor:
    """Summed loss of one step's readout (batch, classes) against labels."""
    if kind == "ce":
        return fn.cross_entropy(output, y, reduction="sum")
    target = fn.one_hot(y, n_classes).to(output.dtype)
    return fn.mse_loss(output, target, reduction="sum")


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run."""

    mode: str = "online"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-2
    loss: str = "ce"
    seed: int = 0
    credit: str = "step"  # online: step, alpha or traces (sg_lava.credit, docs/online_credit.md)
    trace_budget_mb: float = 64.0  # a layer boundary whose traces need more falls back


def train_batch_online(
    net: GammaNetwork, x: Tensor, y: Tensor, mask: Tensor, loss: str, n_classes: int
) -> float:
    """Accumulate the gradients of one batch step by step; returns the mean loss."""
    states = net.initial_state(x.shape[0])
    total = mask.sum().clamp(min=1)
    value = 0.0
    for t in range(x.shape[1]):
        states = [s.detached() for s in states]
        res, states = net.step(x[:, t], states)
        m = mask[:, t]
        if m.any():
            lt = step_loss(res.output[m], y[m], loss, n_classes) / total
            lt.backward()
            value += float(lt.detach())
    return value


def train_batch_bptt(
    net: GammaNetwork, x: Tensor, y: Tensor, mask: Tensor, loss: str, n_classes: int
) -> float:
    """Backpropagate through the whole sequence of one batch; returns the mean loss."""
    out = net(x)
    m = mask.reshape(-1)
    flat = out.reshape(-1, out.shape[-1])[m]
    labels = y.unsqueeze(1).expand_as(mask).reshape(-1)[m]
    lt = step_loss(flat, labels, loss, n_classes) / m.sum().clamp(min=1)
    lt.backward()
    return float(lt.detach())


def online_step(cfg: TrainConfig) -> Callable[..., float]:
    """The online batch trainer for ``cfg.credit`` (forward-mode traces unless ``step``)."""
    from functools import partial

    from sg_lava.credit import CREDITS, train_batch_traced

    if cfg.credit not in CREDITS:
        raise ValueError(f"credit must be one of {CREDITS}")
    if cfg.credit == "step":
        return train_batch_online
    return partial(train_batch_traced, credit=cfg.credit, budget_mb=cfg.trace_budget_mb)


def train(
    net: GammaNetwork,
    data: TaskData,
    cfg: TrainConfig,
    evaluate: Callable[[GammaNetwork], float] | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train ``net`` in place with Adam; returns one history entry per epoch."""
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if cfg.loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}")
    step = online_step(cfg) if cfg.mode == "online" else train_batch_bptt
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    n_batches = -(-len(data) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * n_batches)
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    bar = tqdm(
        total=cfg.epochs * n_batches, disable=not progress, desc=f"train ({cfg.mode})", unit="batch"
    )
    for epoch in range(cfg.epochs):
        net.train()
        losses = []
        for x, y, mask in data.batches(cfg.batch_size, gen):
            x, mask = pad_steps(x, net.latency), shift_mask(mask, net.latency)
            opt.zero_grad(set_to_none=True)
            losses.append(step(net, x, y, mask, cfg.loss, data.n_classes))
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses):.3f}")
        entry = {"epoch": epoch + 1, "loss": float(np.mean(losses))}
        if evaluate is not None:
            entry["accuracy"] = evaluate(net)
            bar.set_postfix(
                epoch=epoch + 1, loss=f"{entry['loss']:.3f}", acc=f"{entry['accuracy']:.3f}"
            )
        history.append(entry)
    bar.close()
    return history


def predict(output: Tensor, mask: Tensor) -> Tensor:
    """Class per sample: argmax of the readout summed over the masked steps."""
    return (output * mask.unsqueeze(-1).to(output.dtype)).sum(1).argmax(-1)


def shift_mask(mask: Tensor, steps: int) -> Tensor:
    """The readout mask delayed by ``steps`` (for Lava-aligned timing)."""
    if steps == 0:
        return mask
    return torch.cat([torch.zeros_like(mask[:, :steps]), mask], 1)


def pad_steps(x: Tensor, steps: int) -> Tensor:
    """Append ``steps`` all-zero time steps so a delayed run loses nothing."""
    if steps == 0:
        return x
    return torch.cat([x, torch.zeros(x.shape[0], steps, *x.shape[2:], dtype=x.dtype)], 1)


@torch.no_grad()
def float_accuracy(net: GammaNetwork, data: TaskData, batch_size: int = 256) -> float:
    """Held-out accuracy of the float model in its own timing."""
    net.eval()
    lag = net.latency
    correct = 0
    for x, y, mask in data.batches(batch_size):
        correct += int((predict(net(pad_steps(x, lag)), shift_mask(mask, lag)) == y).sum())
    return correct / len(data)


@torch.no_grad()
def fixed_accuracy(qnet, data: TaskData, batch_size: int = 256) -> float:
    """Held-out accuracy of the integer model in its own timing (batched reference)."""
    from sg_lava.fixed import FixedNetwork

    fixed = FixedNetwork(qnet)
    lag = qnet.latency
    correct = 0
    for x, y, mask in data.batches(batch_size):
        out, _, _ = fixed.run(qnet.quantize_input(pad_steps(x, lag).numpy()))
        correct += int((predict(out, shift_mask(mask, lag)) == y).sum())
    return correct / len(data)
