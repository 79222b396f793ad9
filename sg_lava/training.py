"""Online and BPTT training of a :class:`GammaNetwork`, and readout accuracy.

Online (the paper's point): a loss at every masked step, gradients through the current
step only. The bucket states carry the history and enter each step as constants, so
memory does not grow with the sequence; the spike code is the identity in the backward
pass (:func:`sg_lava.dynamics.straight_through`). Gradients of all steps of a batch are
summed and applied once per batch. BPTT runs the same forward pass with the graph kept
over the whole sequence.

Device-agnostic: the network and each batch go to ``TrainConfig.device``; every state
tensor is created on the input's device. Under ``torchrun`` every rank takes its shard of
each global batch and DistributedDataParallel sums the gradients once per batch
(:mod:`sg_lava.distributed`); the loss is normalised by the global batch's masked steps,
so the update equals that of one process with the same global batch. After each epoch a
checkpoint lets ``--resume`` continue exactly (:mod:`sg_lava.checkpoints`).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as fn
from torch import Tensor, nn
from tqdm import tqdm

from sg_lava.checkpoints import (
    Checkpoints,
    check_same_run,
    load_checkpoint,
    rng_states,
    set_rng_states,
)
from sg_lava.devices import resolve_device
from sg_lava.distributed import current
from sg_lava.network import GammaNetwork, LayerState, StepResult
from sg_lava.tasks import TaskData
from sg_lava.timing import pad_steps, predict, shift_mask

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
    device: str = "auto"  # auto | cpu | cuda[:N] (sg_lava.devices.resolve_device)

    def settings(self) -> dict:
        """What a resumed run must share with the checkpoint (not the device)."""
        keys = ("mode", "epochs", "batch_size", "lr", "loss", "seed", "credit")
        return {k: getattr(self, k) for k in keys}


class _Stepper(nn.Module):
    """One time step of a network as a ``forward``, so that DDP can wrap online training."""

    def __init__(self, net: GammaNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, s: Tensor, states: list[LayerState]) -> tuple[StepResult, list[LayerState]]:
        return self.net.step(s, states)


def train_batch_online(
    net: GammaNetwork,
    x: Tensor,
    y: Tensor,
    mask: Tensor,
    loss: str,
    n_classes: int,
    norm: float | None = None,
    ddp: nn.Module | None = None,
) -> float:
    """Accumulate the gradients of one batch step by step; returns the mean loss.

    ``norm`` divides the summed loss (default: this batch's masked steps). With ``ddp``
    (a DistributedDataParallel :class:`_Stepper`) every step but the last runs under
    ``no_sync``; the last one, which every rank runs, sums the accumulated gradients.
    """
    run = ddp if ddp is not None else net.step
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
                res, states = run(x[:, t], states)
                m = mask[:, t]
                if m.any():
                    lt = step_loss(res.output[m], y[m], loss, n_classes) / total
                elif ddp is not None and sync:  # every rank must join the gradient sum
                    lt = res.output.sum() * 0.0
                else:
                    continue
                lt.backward()
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
) -> float:
    """Backpropagate through the whole sequence of one batch; returns the mean loss."""
    out = (ddp or net)(x)
    m = mask.reshape(-1)
    flat = out.reshape(-1, out.shape[-1])[m]
    labels = y.unsqueeze(1).expand_as(mask).reshape(-1)[m]
    total = m.sum().clamp(min=1) if norm is None else norm
    lt = step_loss(flat, labels, loss, n_classes) / total
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


def show_progress(progress: bool | None) -> bool:
    """Progress bars only on a terminal: ``None`` asks whether stderr is one."""
    return sys.stderr.isatty() if progress is None else progress


def train(
    net: GammaNetwork,
    data: TaskData,
    cfg: TrainConfig,
    evaluate: Callable[[GammaNetwork], float] | None = None,
    progress: bool | None = None,
    checkpoints: Checkpoints | None = None,
    resume: bool = False,
) -> list[dict]:
    """Train ``net`` in place with Adam; returns one history entry per epoch.

    ``evaluate`` (validation accuracy) runs after each epoch; ``checkpoints`` writes the
    run's files after each epoch and, with ``resume``, continues from the last one.
    ``progress``: a bar (True), nothing (False), or None: a bar on a terminal, else one
    line per epoch. Under ``torchrun`` only rank 0 evaluates, writes and prints.
    """
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if cfg.loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}")
    dist = current()
    device = resolve_device(cfg.device)
    net.to(device)
    step = online_step(cfg) if cfg.mode == "online" else train_batch_bptt
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    n_batches = -(-len(data) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * n_batches)
    gen = torch.Generator().manual_seed(cfg.seed)
    history: list[dict] = []
    best = None
    if resume:
        if checkpoints is None:
            raise ValueError("resume needs the checkpoints of the run")
        path = checkpoints.files.checkpoint
        state = load_checkpoint(path)
        check_same_run(state, path, net.config, cfg.settings())
        net.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        set_rng_states(state["rng"], gen)
        history, best = list(state["history"]), state["best"]
    ddp = None
    traced = cfg.mode == "online" and cfg.credit != "step"  # averages its gradients itself
    if dist.world > 1 and not traced:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(_Stepper(net) if cfg.mode == "online" else net)
    bars = show_progress(progress) and dist.main
    lines = progress is None and not bars and dist.main
    bar = tqdm(
        total=cfg.epochs * n_batches,
        initial=len(history) * n_batches,
        disable=not bars,
        desc=f"train ({cfg.mode})",
        unit="batch",
    )
    try:
        for epoch in range(len(history), cfg.epochs):
            start = time.perf_counter()
            net.train()
            losses = []
            for x, y, mask in data.batches(cfg.batch_size, gen):
                x, mask = pad_steps(x, net.latency), shift_mask(mask, net.latency)
                norm = float(mask.sum().clamp(min=1)) / dist.world  # DDP averages over ranks
                part = dist.shard(len(y))
                x, y, mask = (t[part].to(device) for t in (x, y, mask))
                opt.zero_grad(set_to_none=True)
                losses.append(step(net, x, y, mask, cfg.loss, data.n_classes, norm, ddp))
                if ddp is None:
                    dist.average_gradients(net)
                opt.step()
                sched.step()
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses):.3f}")
            mean = dist.all_sum(float(np.sum(losses))) / dist.world / len(losses)
            entry = {"epoch": epoch + 1, "loss": mean}
            improved = False
            if evaluate is not None and dist.main:
                entry["accuracy"] = evaluate(net)
                improved = best is None or entry["accuracy"] > best["accuracy"]
                if improved:
                    best = {"epoch": epoch + 1, "accuracy": entry["accuracy"]}
            entry["seconds"] = round(time.perf_counter() - start, 3)
            history.append(entry)
            if checkpoints is not None and dist.main:
                checkpoints.epoch_done(
                    {
                        "epoch": epoch + 1,
                        "config": net.config,
                        "settings": cfg.settings(),
                        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "rng": rng_states(gen),
                        "history": history,
                        "best": best,
                    },
                    net,
                    improved,
                )
            if lines:
                print(epoch_line(entry, cfg.epochs), flush=True)
            elif bars and "accuracy" in entry:
                bar.set_postfix(
                    epoch=epoch + 1, loss=f"{entry['loss']:.3f}", acc=f"{entry['accuracy']:.3f}"
                )
    except KeyboardInterrupt:
        if checkpoints is not None and dist.main and checkpoints.files.checkpoint.is_file():
            print(
                f"\\ninterrupted: the last complete epoch is in {checkpoints.files.checkpoint} "
                "(--resume continues from it)",
                file=sys.stderr,
                flush=True,
            )
        raise
    finally:
        bar.close()
    return history


def epoch_line(entry: dict, epochs: int) -> str:
    """One log line per epoch (for logs that are not a terminal)."""
    acc = f", validation accuracy {entry['accuracy']:.4f}" if "accuracy" in entry else ""
    return (
        f"epoch {entry['epoch']}/{epochs}: loss {entry['loss']:.4f}{acc} ({entry['seconds']:.1f} s)"
    )


@torch.no_grad()
def float_accuracy(net: GammaNetwork, data: TaskData, batch_size: int = 256) -> float:
    """Held-out accuracy of the float model in its own timing."""
    net.eval()
    lag = net.latency
    device = next(net.parameters()).device
    correct = 0
    for x, y, mask in data.batches(batch_size):
        with torch.no_grad():
            out = net(pad_steps(x, lag).to(device)).cpu()
        correct += int((predict(out, shift_mask(mask, lag)) == y).sum())
    return correct / len(data)
