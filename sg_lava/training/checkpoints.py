"""A training run's files beside ``model.pt``: checkpoint, best model, metrics, curve.

For ``--out runs/model.pt``:

* ``runs/model.ckpt.pt`` — the last complete epoch: model, optimizer, scheduler and every
  random state (torch, CUDA, numpy, python, the data-order generator), so that ``--resume``
  finishes with the same model as a run that was never interrupted;
* ``runs/model.best.pt`` — the model file (``model_io``) of the epoch with the best
  validation accuracy;
* ``runs/model.metrics.jsonl`` — one JSON object per epoch;
* ``runs/model.curve.png`` — the learning curve.

Everything is written atomically (:func:`sg_lava.files.atomic_write`), so Ctrl-C at any
moment leaves the last complete checkpoint usable; the checkpoint is a plain dict of
tensors and plain types that loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
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

CHECKPOINT_FORMAT = "sg-lava-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class RunFiles:
    """The paths of one run's files, named after the model file."""

    model: Path

    @classmethod
    def beside(cls, model_path: str | Path) -> RunFiles:
        return cls(Path(model_path))

    def _sibling(self, suffix: str) -> Path:
        stem = self.model.name[: -len(self.model.suffix)] if self.model.suffix else self.model.name
        return self.model.with_name(stem + suffix)

    @property
    def checkpoint(self) -> Path:
        return self._sibling(".ckpt.pt")

    @property
    def best(self) -> Path:
        return self._sibling(".best.pt")

    @property
    def metrics(self) -> Path:
        return self._sibling(".metrics.jsonl")

    @property
    def curve(self) -> Path:
        return self._sibling(".curve.png")


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
    """Refuse to resume a checkpoint of another network or other training settings."""
    if payload.get("config") != config:
        raise UserError(f"{path} holds another network than the one asked for; cannot resume")
    recorded = payload.get("settings", {})
    differ = sorted(k for k in settings if recorded.get(k) != settings[k])
    if differ:
        got = ", ".join(f"{k} {recorded.get(k)!r} vs {settings[k]!r}" for k in differ)
        raise UserError(f"{path} was trained with other settings ({got}); cannot resume")


def write_metrics(path: Path, history: list[dict]) -> None:
    """The per-epoch metrics as JSON lines (rewritten whole, atomically)."""
    text = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in history)
    atomic_write(path, lambda f: f.write(text.encode()))


def plot_curve(path: Path, history: list[dict]) -> None:
    """Training loss and validation accuracy against the epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [e["epoch"] for e in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, [e["loss"] for e in history], "o-", color="tab:blue", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="tab:blue")
    scored = [e for e in history if "accuracy" in e]
    if scored:
        acc = ax.twinx()
        acc.plot(
            [e["epoch"] for e in scored],
            [e["accuracy"] for e in scored],
            "s-",
            color="tab:orange",
            label="validation accuracy",
        )
        acc.set_ylabel("validation accuracy", color="tab:orange")
        acc.set_ylim(0, 1.02)
    ax.set_title("learning curve")
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
