"""A training run's files beside ``model.pt``: checkpoint, best model, metrics, curve.

For ``--out runs/model.pt`` (the paths: :class:`~sg_lava.training.runfiles.RunFiles`):

* ``runs/model.ckpt.pt`` — the last complete epoch: model, optimizer, scheduler and every
  random state (torch, CUDA, numpy, python, the data-order generator), so that ``--resume``
  finishes with the same model as a run that was never interrupted;
* ``runs/model.best.pt`` — the model file (``model_io``) of the epoch with the best
  validation accuracy;
* ``runs/model.metrics.jsonl`` — one JSON object per epoch: training loss (mean over the
  epoch's batches) and accuracy, validation loss and accuracy, the learning rate, seconds;
* ``runs/model.curve.png`` — the learning curve of those.

Everything is written atomically (:func:`sg_lava.files.atomic_write`), so Ctrl-C at any
moment leaves the last complete checkpoint usable; the checkpoint is a plain dict of
tensors and plain types that loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sg_lava.errors import UserError
from sg_lava.files import atomic_write
from sg_lava.model.modelfile import load_torch_file
from sg_lava.training.runfiles import RunFiles

CHECKPOINT_FORMAT = "sg-lava-checkpoint"
CHECKPOINT_VERSION = 1


def rng_states(order: torch.Generator) -> dict[str, Any]:
    """Every random state a run draws from, as tensors and plain types."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    states: dict[str, Any] = {
        "order": order.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "state": torch.tensor(py_state), "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any], order: torch.Generator) -> None:
    """Restore what :func:`rng_states` recorded."""
    order.set_state(states["order"])
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))
    p = states["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"]), p["gauss"]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint dict atomically."""
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}
    atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`; bad files raise :class:`UserError`."""
    payload = load_torch_file(path, "checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not an sg-lava checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise UserError(f"{path} has checkpoint version {payload.get('version')}")
    return payload


def check_same_run(payload: dict[str, Any], path: Path, config: dict, settings: dict) -> None:
    """Refuse to resume a checkpoint of another network or other training settings, or to
    end before the epochs it has done (more epochs than it was asked for extend it)."""
    if payload.get("config") != config:
        raise UserError(f"{path} holds another network than the one asked for; cannot resume")
    recorded = payload.get("settings", {})
    done = len(payload.get("history", []))
    if settings["epochs"] < done:
        raise UserError(
            f"{path} has done {done} epochs; --epochs {settings['epochs']} would end before "
            f"them (give more than {done} to extend the run)"
        )
    differ = sorted(k for k in settings if k != "epochs" and recorded.get(k) != settings[k])
    if differ:
        got = ", ".join(f"{k} {recorded.get(k)!r} vs {settings[k]!r}" for k in differ)
        raise UserError(f"{path} was trained with other settings ({got}); cannot resume")


def recorded_epochs(files: RunFiles) -> int:
    """The epochs the run in ``files`` was asked for (``--resume`` without ``--epochs``)."""
    epochs = load_checkpoint(files.checkpoint).get("settings", {}).get("epochs")
    if not isinstance(epochs, int) or epochs < 1:
        raise UserError(f"{files.checkpoint} records no number of epochs")
    return epochs


def cosine_lr(base: float, step: int, total: int) -> float:
    """The cosine schedule's rate after ``step`` of ``total`` steps (from ``base`` to 0)."""
    return 0.5 * base * (1.0 + math.cos(math.pi * min(step, total) / total))


def extend_schedule(sched: torch.optim.lr_scheduler.CosineAnnealingLR, total: int) -> None:
    """Put a resumed run's cosine schedule on ``total`` steps, at the step it reached.

    The rule for ``--resume --epochs N``: the rate follows the cosine of a run asked for N
    epochs from the start, from the step the run is at, as if N had been asked for from
    the beginning (so a finished run's rate, at 0, rises again to that curve). With the
    run's own total nothing changes: a resumed run stays exactly the uninterrupted one.
    """
    if sched.T_max == total:
        return
    sched.T_max = total
    rates = [cosine_lr(base, sched.last_epoch, total) for base in sched.base_lrs]
    for group, lr in zip(sched.optimizer.param_groups, rates):
        group["lr"] = lr
    sched._last_lr = rates


def write_metrics(path: Path, history: list[dict]) -> None:
    """The per-epoch metrics as JSON lines (rewritten whole, atomically)."""
    text = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in history)
    atomic_write(path, lambda f: f.write(text.encode()))


def plot_curve(path: Path, history: list[dict]) -> None:
    """The learning curve as a PNG: loss (training, validation), accuracy (training,
    validation; the best validation epoch marked) and the learning rate, per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [e["epoch"] for e in history]

    def series(ax, key: str, style: str, label: str) -> None:
        points = [(e["epoch"], e[key]) for e in history if key in e]
        if points:
            ax.plot(*zip(*points), style, label=label, ms=4)

    fig, (loss, acc, lr) = plt.subplots(
        3, 1, figsize=(6.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1.4]}
    )
    series(loss, "loss", "o-", "training (mean over the epoch)")
    series(loss, "val_loss", "s-", "validation (end of epoch)")
    loss.set_ylabel("loss per readout step")
    series(acc, "train_accuracy", "o-", "training (first samples, end of epoch)")
    series(acc, "accuracy", "s-", "validation (end of epoch)")
    scored = [e for e in history if "accuracy" in e]
    if scored:
        best = max(scored, key=lambda e: e["accuracy"])  # the first of the best, as saved
        acc.axvline(best["epoch"], color="grey", ls=":", lw=1)
        right = best["epoch"] > (min(epochs) + max(epochs)) / 2
        acc.annotate(
            f"best validation: epoch {best['epoch']}, {best['accuracy']:.3f}",
            (best["epoch"], 0.03),
            xytext=(-4 if right else 4, 0),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=8,
            color="grey",
        )
    acc.set_ylim(0, 1.02)
    acc.set_ylabel("accuracy")
    series(lr, "lr", ".-", "learning rate")
    lr.set_ylabel("learning rate\n(epoch start)")
    lr.set_xlabel("epoch")
    lr.set_ylim(bottom=0)
    lr.xaxis.set_major_locator(MaxNLocator(integer=True))
    if epochs:
        lr.set_xlim(min(epochs) - 0.3, max(epochs) + 0.3)
    for ax in (loss, acc):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    for ax in (loss, acc, lr):
        ax.grid(alpha=0.3)
    loss.set_title(f"learning curve ({len(history)} epochs)")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


@dataclass
class Checkpoints:
    """What :func:`sg_lava.training.loop.train` writes after each epoch, and resumes from.

    ``save_best`` writes a model file of the network (``save_model`` with the run's task
    and settings); it is called when the validation accuracy improves.
    """

    files: RunFiles
    save_best: Callable[[Any, Path], None] | None = None

    def epoch_done(self, state: dict[str, Any], net: Any, improved: bool) -> None:
        """Write the checkpoint, the best model (if it improved), metrics and curve."""
        if improved and self.save_best is not None:
            self.save_best(net, self.files.best)
        save_checkpoint(self.files.checkpoint, state)
        write_metrics(self.files.metrics, state["history"])
        plot_curve(self.files.curve, state["history"])
