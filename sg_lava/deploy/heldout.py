"""The inputs a deployment measures on: the model's own held-out samples (one rule).

A model file keeps a few samples of data that no seed regenerates
(:data:`sg_lava.model.modelfile.KEPT`); a built-in task is regenerated from the record of
how it was trained — name, seed and parameters, its time resolution among them. ``net.h5``
carries the same record (``task_info``), so ``sg-lava plan`` measures a file on the inputs
its model was trained for, as ``verify`` does.
"""

from __future__ import annotations

import json
from typing import Any

from torch import Tensor

from sg_lava.data.recipes import RECIPES
from sg_lava.data.tasks import task_split
from sg_lava.errors import UserError
from sg_lava.model.timing import pad_steps


def file_task(meta: dict[str, str]) -> dict[str, Any]:
    """The task record ``net.h5`` carries (``task_info``), or just its name."""
    try:
        info = json.loads(meta.get("task_info", ""))
    except ValueError:
        info = None
    return info if isinstance(info, dict) else {"name": meta.get("task", "")}


def task_record(name: str, recorded: dict[str, Any], seed: int | None = None) -> dict[str, Any]:
    """The task to regenerate: the recorded one when ``name`` is it (or empty), else the
    built-in task ``name`` at its recipe's parameters; ``seed`` replaces the recorded seed."""
    name = name or recorded.get("name", "")
    if name == "data":
        raise UserError(
            "the model was trained on a data folder, not a built-in task: measure it on "
            "--data DIR (its test.npz) or --inputs x.npy"
        )
    if not name:
        raise UserError("this file records no task: give --task NAME, --inputs or --data")
    if name == recorded.get("name") and "params" in recorded:
        task = dict(recorded)
    elif name in RECIPES:
        task = {"name": name, "seed": 0, "params": RECIPES[name]["task"]}
    else:
        raise UserError(f"unknown task {name!r}; choose from {', '.join(RECIPES)}")
    if seed is not None:
        task["seed"] = seed
    return task


def held_out(
    task: dict[str, Any] | None,
    stored: Tensor | None,
    split: str,
    n: int,
    latency: int,
    where: str = "the model",
) -> Tensor | None:
    """Up to ``n`` inputs of ``split``, padded for ``latency``: the ``stored`` samples, else
    the recorded ``task``'s split regenerated; None when there are neither."""
    if stored is not None:
        return pad_steps(stored[:n], latency)
    if not isinstance(task, dict) or not task.get("name") or task.get("name") == "data":
        return None
    try:
        data = task_split(task, split, n)
    except (KeyError, TypeError, ValueError):
        raise UserError(
            f"{where}: cannot regenerate its task (unknown task or parameters)"
        ) from None
    return pad_steps(data.x, latency)
