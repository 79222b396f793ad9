"""Train a built-in task end to end: generate data, train, evaluate float and fixed, save.

Shared by ``sg-lava train``, the demo and the deploy examples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sg_lava.exporter import quantize_for_export
from sg_lava.model_io import save_model
from sg_lava.network import GammaNetwork
from sg_lava.recipes import dense_config, recipe
from sg_lava.tasks import TaskData, make_task
from sg_lava.training import TrainConfig, fixed_accuracy, float_accuracy, seed_everything, train


@dataclass
class TrainResult:
    """What a training run produced."""

    net: GammaNetwork
    task: dict[str, Any]
    test: TaskData
    float_accuracy: float
    fixed_accuracy: float
    seconds: float
    history: list[dict] = field(default_factory=list)


def train_task(
    task: str,
    out: str | Path | None = None,
    epochs: int | None = None,
    seed: int = 0,
    mode: str = "online",
    resolution: int = 1,
    per_synapse: bool = False,
    timing: str | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    loss: str = "ce",
    progress: bool = True,
    credit: str | None = None,
) -> TrainResult:
    """Train the recipe of ``task`` and (if ``out``) save ``model.pt``."""
    r = recipe(task)
    seed_everything(seed)
    params = {**r["task"], "resolution": resolution}
    n_train = n_train or r["n_train"]
    n_test = n_test or r["n_test"]
    train_data = make_task(task, n_train, seed=2 * seed + 1, **params)
    test_data = make_task(task, n_test, seed=2 * seed + 2, **params)
    neuron = {**r["network"], "per_synapse": per_synapse}
    if timing:
        neuron["timing"] = timing
    if resolution != 1:  # same physical time constants at a finer step: alpha -> alpha**(1/r)
        neuron["F"] = neuron["F"] / resolution
    config = dense_config(train_data.x.shape[-1], r["hidden"], train_data.n_classes, **neuron)
    net = GammaNetwork(config)
    train_params = {**r["train"], **({"epochs": epochs} if epochs else {})}
    if credit:
        train_params["credit"] = credit
    cfg = TrainConfig(mode=mode, seed=seed, loss=loss, **train_params)
    start = time.perf_counter()
    history = train(net, train_data, cfg, progress=progress)
    seconds = time.perf_counter() - start
    acc = float_accuracy(net, test_data)
    task_info = {"name": task, "params": params, "seed": seed, "n_train": n_train, "n_test": n_test}
    qnet = quantize_for_export(net, {"task": task_info}).qnet  # what sg-export writes
    acc_fixed = fixed_accuracy(qnet, test_data)
    if out is not None:
        train_info = {
            "mode": mode,
            "epochs": cfg.epochs,
            "seed": seed,
            "lr": cfg.lr,
            "batch_size": cfg.batch_size,
            "credit": cfg.credit if mode == "online" else None,
            "seconds": seconds,
            "float_accuracy": acc,
            "fixed_accuracy": acc_fixed,
        }
        save_model(net, out, task=task_info, train=train_info)
    return TrainResult(net, task_info, test_data, acc, acc_fixed, seconds, history)
