"""The training loop: epochs of batches, validation, checkpoints, ``--resume``.

Device-agnostic: the network and each batch go to ``TrainConfig.device``; every state
tensor is created on the input's device. Under ``torchrun`` every rank takes its shard of
each global batch and DistributedDataParallel sums the gradients once per batch
(:mod:`sg_lava.training.distributed`); the loss is normalised by the global batch's masked
steps, so the update equals that of one process with the same global batch. After each
epoch a checkpoint lets ``--resume`` continue exactly (:mod:`sg_lava.training.checkpoints`).
The batch steps themselves are :mod:`sg_lava.training.steps`.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from tqdm import tqdm

from sg_lava.data.streaming import StreamData
from sg_lava.data.tasks import TaskData
from sg_lava.devices import resolve_device
from sg_lava.model.network import GammaNetwork
from sg_lava.model.readout import float_readout
from sg_lava.model.timing import pad_steps, predict, shift_mask
from sg_lava.training.checkpoints import (
    Checkpoints,
    check_same_run,
    extend_schedule,
    load_checkpoint,
    rng_states,
    set_rng_states,
)
from sg_lava.training.checks import check_training_data
from sg_lava.training.config import TrainConfig
from sg_lava.training.distributed import current
from sg_lava.training.steps import Stepper, step_loss, train_batch_bptt, train_batch_online


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def show_progress(progress: bool | None) -> bool:
    """Progress bars only on a terminal: ``None`` asks whether stderr is one."""
    return sys.stderr.isatty() if progress is None else progress


def train(
    net: GammaNetwork,
    data: TaskData,
    cfg: TrainConfig,
    *,
    evaluate: Callable[[GammaNetwork], float | dict[str, float]] | None = None,
    progress: bool | None = None,
    checkpoints: Checkpoints | None = None,
    resume: bool = False,
) -> list[dict]:
    """Train ``net`` in place with Adam; returns one history entry per epoch.

    The learning rate follows a cosine from ``cfg.lr`` to 0 over ``cfg.epochs`` (per batch).
    ``evaluate`` runs after each epoch: the validation accuracy, or a dict of scores
    (``accuracy``, ``val_loss``, ``train_accuracy``) that go into the epoch's entry beside
    ``loss`` (the epoch's mean training loss) and ``lr`` (the rate of its first batch).
    ``checkpoints`` writes the run's files after each epoch and, with ``resume``, continues
    from the last one; a ``cfg.epochs`` above the checkpoint's extends the run
    (:func:`~sg_lava.training.checkpoints.extend_schedule` says how the rate continues).
    ``progress``: a bar (True), nothing (False), or None: a bar on a terminal, else one
    line per epoch. Under ``torchrun`` only rank 0 evaluates, writes and prints.
    """
    check_training_data(net, data, cfg)
    dist = current()
    device = resolve_device(cfg.device)
    net.to(device)
    if cfg.mode == "online":
        step = partial(train_batch_online, credit=cfg.credit, budget_mb=cfg.trace_budget_mb)
    else:
        step = train_batch_bptt
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
        extend_schedule(sched, cfg.epochs * n_batches)
        set_rng_states(state["rng"], gen)
        history, best = list(state["history"]), state["best"]
    ddp = None
    traced = cfg.mode == "online" and cfg.credit != "step"  # averages its gradients itself
    if dist.world > 1 and not traced:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(Stepper(net) if cfg.mode == "online" else net)
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
            lr = opt.param_groups[0]["lr"]
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
            entry = {"epoch": epoch + 1, "loss": mean, "lr": lr}
            improved = False
            if evaluate is not None and dist.main:
                scores = evaluate(net)
                entry.update(scores if isinstance(scores, dict) else {"accuracy": scores})
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
                f"interrupted: the last complete epoch is in {checkpoints.files.checkpoint} "
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


def float_scores(
    net: GammaNetwork, data: TaskData | StreamData, loss: str | None = None, batch_size: int = 256
) -> dict[str, float]:
    """Held-out accuracy of the float model in its own timing and, with ``loss``, its mean
    loss per readout step (normalised as training's)."""
    net.eval()
    correct, total, steps = 0, 0.0, 0
    for x, y, mask in data.batches(batch_size):
        out, window = float_readout(net, x, mask)
        correct += int((predict(out, window) == y).sum())
        if loss is not None:
            labels = y.unsqueeze(1).expand_as(window)[window]
            total += float(step_loss(out[window], labels, loss, data.n_classes))
            steps += int(window.sum())
    scores = {"accuracy": correct / len(data)}
    if loss is not None:
        scores["loss"] = total / max(steps, 1)
    return scores


def float_accuracy(net: GammaNetwork, data: TaskData | StreamData, batch_size: int = 256) -> float:
    """Held-out accuracy of the float model in its own timing."""
    return float_scores(net, data, None, batch_size)["accuracy"]
