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

import math
import os
import random
import sys
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from tqdm import tqdm

from sg_lava.data.streaming import VALIDATION_BATCH, StreamData
from sg_lava.data.tasks import TaskData
from sg_lava.devices import resolve_device
from sg_lava.errors import UserError
from sg_lava.interrupts import add_note, raise_pending
from sg_lava.model.activity import combine, fanouts, measure
from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps, predict, shift_mask
from sg_lava.training.budget import check_training_memory
from sg_lava.training.checkpoints import (
    Checkpoints,
    check_same_run,
    extend_schedule,
    load_checkpoint,
    resume_from,
    rng_states,
)
from sg_lava.training.checks import check_training_data
from sg_lava.training.config import TrainConfig
from sg_lava.training.distributed import current
from sg_lava.training.steps import (
    SpikeCost,
    Stepper,
    step_loss,
    train_batch_bptt,
    train_batch_online,
)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


MIN_COLUMNS = 20  # narrower terminals (or ones that report 0 columns) get epoch lines


def show_progress(progress: bool | None) -> bool:
    """Progress bars only on a terminal wide enough for one: ``None`` asks stderr."""
    if progress is not None:
        return progress
    try:
        return (
            sys.stderr.isatty() and os.get_terminal_size(sys.stderr.fileno()).columns >= MIN_COLUMNS
        )
    except (OSError, ValueError):  # not a terminal, or stderr closed
        return False


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
    (``accuracy`` chooses the best epoch; ``val_loss``, ``train_accuracy``, activity:
    :func:`float_scores`) that go into the epoch's entry beside ``loss`` (the epoch's mean
    training loss) and ``lr`` (the rate of its first batch).
    ``checkpoints`` writes the run's files after each epoch and, with ``resume``, continues
    from the last one; a ``cfg.epochs`` above the checkpoint's extends the run
    (:func:`~sg_lava.training.checkpoints.extend_schedule` says how the rate continues).
    ``progress``: a bar (True), nothing (False), or None: a bar on a terminal, else one
    line per epoch. Under ``torchrun`` only rank 0 evaluates, writes and prints.
    """
    if cfg.mode == "ridge":
        raise ValueError("mode 'ridge' has no epochs: sg_lava.training.ridge.train_ridge fits it")
    check_training_data(net, data, cfg)
    if hasattr(data, "steps"):  # TaskData and StreamData know their steps per sample
        check_training_memory(net, len(data), data.steps, cfg.batch_size, cfg.mode)
    dist = current()
    device = resolve_device(cfg.device)
    net.to(device)
    spikes = SpikeCost(cfg.spike_cost, cfg.spike_target) if cfg.counts_spikes else None
    if cfg.mode == "online":
        step = partial(
            train_batch_online, credit=cfg.credit, budget_mb=cfg.trace_budget_mb, spikes=spikes
        )
    else:
        step = partial(train_batch_bptt, spikes=spikes)
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
        history, best = resume_from(state, path, net, opt, sched, gen, batches=n_batches)
        extend_schedule(sched, cfg.epochs * n_batches)
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
                raise_pending()
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
            check_finite(net, mean, epoch + 1, cfg.lr)
            entry = {"epoch": epoch + 1, "loss": mean, "lr": lr}
            improved = False
            if evaluate is not None and dist.main:
                scores = evaluate(net)
                entry.update(scores if isinstance(scores, dict) else {"accuracy": scores})
                improved = better_epoch(entry, best, sparser=cfg.counts_spikes)
                if improved:
                    best = {"epoch": epoch + 1, "accuracy": entry["accuracy"]}
                    if cfg.counts_spikes and "spikes_per_neuron_step" in entry:
                        best["spikes_per_neuron_step"] = entry["spikes_per_neuron_step"]
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
                    epoch=epoch + 1,
                    loss=f"{entry['loss']:.3f}",
                    acc=f"{entry['accuracy']:.3f}",
                    spikes=f"{entry.get('spikes_per_neuron_step', 0):.3f}",
                )
    except KeyboardInterrupt as err:
        if checkpoints is not None and dist.main and checkpoints.files.checkpoint.is_file():
            add_note(
                err,
                f"the last complete epoch is in {checkpoints.files.checkpoint} "
                "(--resume continues from it)",
            )
        raise
    finally:
        bar.close()
    return history


def check_finite(net: GammaNetwork, loss: float, epoch: int, lr: float) -> None:
    """Stop a diverged run before its epoch is saved: NaN or inf in the loss or weights."""
    if math.isfinite(loss) and all(bool(torch.isfinite(p).all()) for p in net.parameters()):
        return
    raise UserError(
        f"training diverged in epoch {epoch}: the loss or the weights are no longer finite "
        f"(NaN or inf); try a smaller --lr than {lr:g}"
    )


def better_epoch(entry: dict, best: dict | None, sparser: bool = False) -> bool:
    """Whether an epoch's validation scores beat the best so far: a higher accuracy, or
    with ``sparser`` (a run that pays for spikes) the same accuracy at fewer spikes. A run
    with a spike cost often reaches its accuracy early and spends the later epochs shedding
    spikes; without the tie rule its best model would be a dense early one."""
    if best is None or entry["accuracy"] > best["accuracy"]:
        return True
    rate, kept = entry.get("spikes_per_neuron_step"), best.get("spikes_per_neuron_step")
    return (
        sparser
        and entry["accuracy"] == best["accuracy"]
        and None not in (rate, kept)
        and rate < kept
    )


def epoch_line(entry: dict, epochs: int) -> str:
    """One log line per epoch (for logs that are not a terminal)."""
    acc = f", validation accuracy {entry['accuracy']:.4f}" if "accuracy" in entry else ""
    if "spikes_per_neuron_step" in entry:
        acc += (
            f", {entry['spikes_per_neuron_step']:.3f} spikes/neuron/step"
            f", {entry['synops_per_inference']:.3g} synops/inference"
        )
    return (
        f"epoch {entry['epoch']}/{epochs}: loss {entry['loss']:.4f}{acc} ({entry['seconds']:.1f} s)"
    )


@torch.no_grad()
def float_scores(
    net: GammaNetwork,
    data: TaskData | StreamData,
    loss: str | None = None,
    batch_size: int = VALIDATION_BATCH,
    activity: bool = True,
) -> dict[str, float]:
    """Held-out accuracy of the float model in its own timing; with ``loss``, its mean loss
    per readout step (normalised as training's); with ``activity``, its hidden spikes per
    neuron per step and synaptic operations per inference (:mod:`sg_lava.model.activity`,
    the padded latency steps included)."""
    net.eval()
    lag = net.latency
    device = next(net.parameters()).device
    fans = fanouts(net) if activity else []
    correct, total, steps = 0, 0.0, 0
    parts = []
    for x, y, mask in data.batches(batch_size):
        xp, window = pad_steps(x, lag).to(device), shift_mask(mask, lag)
        if activity:
            out, spikes = net(xp, return_spikes=True)
            sources = [net.encode_input(xp).cpu(), *(s.cpu() for s in spikes)]
            parts.append(measure(sources, [f.view(s.shape[2:]) for f, s in zip(fans, sources)]))
        else:
            out = net(xp)
        out = out.cpu()
        correct += int((predict(out, window) == y).sum())
        if loss is not None:
            labels = y.unsqueeze(1).expand_as(window)[window]
            total += float(step_loss(out[window], labels, loss, data.n_classes))
            steps += int(window.sum())
    scores = {"accuracy": correct / len(data)}
    if loss is not None:
        scores["loss"] = total / max(steps, 1)
    if activity:
        act = combine(parts)
        scores["spikes_per_neuron_step"] = act.total_spikes_per_neuron_step
        scores["synops_per_inference"] = act.total_synops
    return scores


def float_accuracy(
    net: GammaNetwork, data: TaskData | StreamData, batch_size: int = VALIDATION_BATCH
) -> float:
    """Held-out accuracy of the float model in its own timing."""
    return float_scores(net, data, None, batch_size, activity=False)["accuracy"]
