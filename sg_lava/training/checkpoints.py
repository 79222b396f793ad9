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
from sg_lava.model.modelfile import load_torch_file, save_torch_file
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
    save_torch_file(path, payload)


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
    recorded = payload.get("settings")
    if not isinstance(recorded, dict):
        raise UserError(f"{path}: 'settings' must be a table of training settings; cannot resume")
    history = payload.get("history")
    done = len(history) if isinstance(history, list) else 0
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


def plot_curve(path: Path, history: list[dict], best: dict | None = None) -> None:
    """The learning curve as a PNG: loss (training, validation), accuracy (training,
    validation; the best epoch marked: ``best``, else the first of the highest accuracy),
    the validation set's hidden spikes per neuron per step where recorded, and the
    learning rate, per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [e["epoch"] for e in history]

    def series(ax, key: str, style: str, label: str) -> None:
        points = [(e["epoch"], e[key]) for e in history if key in e]
        if points:
            ax.plot(*zip(*points), style, label=label, ms=4)

    spiking = any("spikes_per_neuron_step" in e for e in history)
    ratios = [3, 3, 1.4, 1.4] if spiking else [3, 3, 1.4]
    fig, axes = plt.subplots(
        len(ratios),
        1,
        figsize=(6.5, 1.3 + 1.3 * sum(ratios) / 2),
        sharex=True,
        gridspec_kw={"height_ratios": ratios},
    )
    loss, acc, *rest = axes
    lr = rest[-1]
    if spiking:
        series(rest[0], "spikes_per_neuron_step", "s-", "validation")
        rest[0].set_ylabel("hidden spikes /\nneuron / step")
        rest[0].set_ylim(bottom=0)
    series(loss, "loss", "o-", "training (mean over the epoch)")
    series(loss, "val_loss", "s-", "validation (end of epoch)")
    loss.set_ylabel("loss per readout step")
    series(acc, "train_accuracy", "o-", "training (first samples, end of epoch)")
    series(acc, "accuracy", "s-", "validation (end of epoch)")
    scored = [e for e in history if "accuracy" in e]
    if scored:
        if best is None or "accuracy" not in best:
            best = max(scored, key=lambda e: e["accuracy"])  # the first of the best
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
    for ax in axes:
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
        plot_curve(self.files.curve, state["history"], state.get("best"))


def _conform(value: Any, template: Any, where: str) -> None:
    """``value`` has the form of ``template`` (what this run would have saved): the same
    keys, lengths and types; tensors of the same shape and type, finite where real."""
    if isinstance(template, torch.Tensor):
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{where} must be a tensor")
        if value.shape != template.shape or value.dtype != template.dtype:
            raise ValueError(
                f"{where} has shape {tuple(value.shape)} ({value.dtype}), expected "
                f"{tuple(template.shape)} ({template.dtype})"
            )
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"{where} holds NaN or inf")
    elif isinstance(template, dict):  # the CUDA states are there where CUDA was
        if not isinstance(value, dict) or set(value) - {"cuda"} != set(template) - {"cuda"}:
            raise ValueError(f"{where} must be a table with the keys {sorted(template)}")
        for key in template:
            if key in value:
                _conform(value[key], template[key], f"{where}[{key!r}]")
    elif isinstance(template, list | tuple):
        if not isinstance(value, list | tuple) or len(value) != len(template):
            raise ValueError(f"{where} must be a list of {len(template)}")
        for i, (v, t) in enumerate(zip(value, template)):
            _conform(v, t, f"{where}[{i}]")
    elif isinstance(template, bool) or isinstance(template, str):
        if type(value) is not type(template):
            raise ValueError(f"{where} must be a {type(template).__name__}")
    elif isinstance(template, int | float) or template is None:
        whole = isinstance(template, int)  # counts stay whole numbers
        number = _number(value) and (not whole or float(value).is_integer())
        if not (number or (template is None and value is None)):
            raise ValueError(f"{where} must be a finite {'whole ' if whole else ''}number")


def _number(value: Any) -> bool:
    """A finite real number (not a bool)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and bool(np.isfinite(float(value)))


def _history(payload: dict[str, Any]) -> None:
    """``epoch``, ``history`` (one record per finished epoch) and ``best`` agree."""
    epoch, history, best = payload.get("epoch"), payload.get("history"), payload.get("best")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise ValueError("'epoch' must be a whole number of finished epochs")
    if not isinstance(history, list) or len(history) != epoch:
        raise ValueError(f"'history' must be a list of {epoch} per-epoch records (tables)")
    for i, entry in enumerate([*history, *([best] if best is not None else [])]):
        where = f"'history'[{i}]" if i < epoch else "'best'"
        if not isinstance(entry, dict) or not _number(entry.get("epoch")):
            raise ValueError(f"{where} must be a table with a number 'epoch'")
        if not (entry["epoch"] == i + 1 or (i == epoch and 1 <= entry["epoch"] <= epoch)):
            raise ValueError(f"{where} names epoch {entry['epoch']}, not epoch {i + 1}")
        required = ("loss",) if i < epoch else ("accuracy",)
        for key in ("loss", "accuracy", "seconds"):
            if (key in entry or key in required) and not _number(entry.get(key)):
                raise ValueError(f"{where}[{key!r}] must be a finite number")


def resume_from(
    payload: dict[str, Any],
    path: Path,
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: Any,
    order: torch.Generator,
    batches: int | None = None,
) -> tuple[list[dict], dict | None]:
    """Check every field of a checkpoint against what this run would have saved, then
    load it into ``net``, ``opt``, ``sched`` and the random states; returns the history
    and the best epoch. A bad field is refused before anything is loaded (the random
    states, loaded first, are checked by setting them). ``batches``: this data's batches
    per epoch, which the checkpoint's schedule must have planned with."""
    params = list(net.parameters())
    adam = {"step": torch.tensor(0.0)}
    templates = {
        "state_dict": net.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "rng": rng_states(order),
    }
    try:
        for key, template in templates.items():
            if key not in payload:
                raise ValueError(f"missing {key!r}")
            if key == "optimizer" and isinstance(payload[key], dict):  # moments: by parameter
                _conform({**payload[key], "state": {}}, template, f"{key!r}")
                _adam_state(payload[key]["state"], params, adam)
            else:
                _conform(payload[key], template, f"{key!r}")
        settings = payload.get("settings")
        epochs = settings.get("epochs") if isinstance(settings, dict) else None
        planned = payload["scheduler"]["T_max"]
        if batches is not None and isinstance(epochs, int) and planned != epochs * batches:
            # another number of batches per epoch than this data gives (--epochs N may
            # change the run's length: extend_schedule follows it)
            raise ValueError("'scheduler' plans another number of batches (other data?)")
        _numpy_state(payload["rng"]["numpy"])
        _history(payload)
    except ValueError as err:
        raise UserError(f"{path}: {err}; cannot resume") from None
    try:
        set_rng_states(payload["rng"], order)
    except (RuntimeError, ValueError, TypeError, OverflowError) as err:
        raise UserError(
            f"{path}: 'rng' is not a random state ({str(err)[:80]}); cannot resume"
        ) from None
    net.load_state_dict(payload["state_dict"])
    opt.load_state_dict(payload["optimizer"])
    sched.load_state_dict(payload["scheduler"])
    return list(payload["history"]), payload["best"]


def _numpy_state(state: dict[str, Any]) -> None:
    """numpy accepts any position and any keys, then draws garbage: check the ranges."""
    keys = state["keys"]
    if not 0 <= state["pos"] <= len(keys) or state["has_gauss"] not in (0, 1):
        raise ValueError("'rng'['numpy'] is not a Mersenne Twister state (position, gauss)")
    if bool((keys < 0).any()) or bool((keys >= 1 << 32).any()):
        raise ValueError("'rng'['numpy']['keys'] must be 32-bit words")


def _adam_state(state: Any, params: list, step: dict) -> None:
    """Adam's per-parameter moments: a table by parameter index, shaped as the parameter."""
    if not isinstance(state, dict) or not set(state) <= set(range(len(params))):
        raise ValueError("'optimizer'['state'] must be a table by parameter index")
    for i, entry in state.items():
        moment = params[i].detach().cpu()
        template = {**step, "exp_avg": moment, "exp_avg_sq": moment}
        _conform(entry, template, f"'optimizer'['state'][{i}]")
