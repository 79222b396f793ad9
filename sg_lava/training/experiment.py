"""Train end to end: data, network, training, ``model.pt`` and its float accuracy.

Shared by ``sg-lava train``, the demo and the deploy examples. Training stops at the model
file: what the exported integers do is the deployment's to measure
(:class:`sg_lava.deploy.pipeline.Pipeline`), from the file this writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sg_lava.data.recipes import DATA_RECIPE, dense_config, recipe
from sg_lava.data.streaming import StreamData
from sg_lava.data.tasks import TaskData, check_task_memory, make_task, split_seed
from sg_lava.errors import UserError
from sg_lava.files import file_sha256
from sg_lava.model.modelfile import kept_samples, load_weights, save_model
from sg_lava.model.network import GammaNetwork
from sg_lava.training.checkpoints import Checkpoints, recorded_epochs
from sg_lava.training.config import TrainConfig
from sg_lava.training.distributed import current
from sg_lava.training.loop import float_accuracy, float_scores, seed_everything, train
from sg_lava.training.ridge import train_ridge
from sg_lava.training.runfiles import RunFiles, check_new_run, clear_run


@dataclass
class TrainResult:
    """What a training run produced."""

    path: Path  # the model file written
    net: GammaNetwork  # the trained network (the last epoch), as saved
    test: TaskData | StreamData
    float_accuracy: float
    seconds: float
    history: list[dict] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # TrainConfig.settings()


# what ridge does not use: given with it, a user expects an effect that would not come
RIDGE_REFUSES = ("epochs", "lr", "batch_size", "loss", "credit", "spike_cost", "spike_target")
TRAIN_SCORED = 256  # training samples scored after each epoch (the curve's training accuracy)


def seeded_network(config: dict[str, Any], seed: int) -> GammaNetwork:
    """The network of ``config`` with its initial weights drawn after seeding everything with
    ``seed`` (:func:`~sg_lava.training.loop.seed_everything`): the same seed, the same run."""
    seed_everything(seed)
    return GammaNetwork(config)


def epoch_scores(
    train_data: TaskData | StreamData, valid: TaskData | StreamData, loss: str
) -> Callable[[GammaNetwork], dict[str, float]]:
    """What each epoch records of the network: validation accuracy and loss, and the accuracy
    on the first :data:`TRAIN_SCORED` training samples (the curve's training accuracy), and
    the validation set's activity (hidden spikes per neuron per step, synaptic ops)."""
    head = train_data.subset(TRAIN_SCORED) if isinstance(train_data, StreamData) else train_data.head(TRAIN_SCORED)  # fmt: skip

    def scores(net: GammaNetwork) -> dict[str, float]:
        val = float_scores(net, valid, loss)
        trained = float_accuracy(net, head)
        activity = {k: val[k] for k in ("spikes_per_neuron_step", "synops_per_inference")}
        return {
            "accuracy": val["accuracy"],
            "val_loss": val["loss"],
            "train_accuracy": trained,
            **activity,
        }

    return scores


def train_and_save(
    config: dict[str, Any],
    train_data: TaskData | StreamData,
    test_data: TaskData | StreamData,
    cfg: TrainConfig,
    out: str | Path,
    task: dict[str, Any],
    samples: dict | None = None,
    progress: bool | None = None,
    valid: TaskData | None = None,
    resume: bool = False,
    overwrite: bool = False,
    init: str | Path | None = None,
) -> TrainResult | None:
    """Train a network of ``config`` on ``train_data``, save it, measure it on ``test_data``.

    ``samples`` (calibration and test inputs) go into the file for tasks that cannot be
    regenerated from a seed (datasets). After each epoch the scores on ``valid`` are recorded
    (without ``valid``: none, and no best model) and the run's files (:class:`RunFiles`:
    checkpoint, best model, metrics, curve) are written beside ``out``. An earlier run in
    ``out`` is refused unless ``resume`` continues it from its checkpoint or ``overwrite``
    replaces it (:func:`~sg_lava.training.runfiles.check_new_run`). ``init``: a model file
    whose weights the network starts from (same architecture). ``test_data`` is measured
    once, after the last epoch: it never chooses a model. Under ``torchrun`` only rank 0
    saves and measures; other ranks get None.
    """
    files = check_new_run(out, resume, overwrite)
    net = seeded_network(config, cfg.seed)
    init_record = None
    if init is not None:
        load_weights(net, init)
        init_record = {"init": str(init), "init_sha256": file_sha256(init)}

    def info(**extra: Any) -> dict[str, Any]:
        keys: tuple[str, ...] = ("mode", "epochs", "seed", "lr", "batch_size")
        credit = {"credit": cfg.credit if cfg.mode == "online" else None}
        if cfg.counts_spikes:
            keys += ("spike_cost", "spike_target")
        return {**{k: getattr(cfg, k) for k in keys}, **credit, **(init_record or {}), **extra}

    def save_best(best: GammaNetwork, path: Path) -> None:
        save_model(
            best, path, task=task, train=info(selected="best validation accuracy"), samples=samples
        )

    main = current().main  # the one process that writes
    with files.claimed() if main else nullcontext():
        if overwrite and main:
            clear_run(files)
        scored = None if valid is None else epoch_scores(train_data, valid, cfg.loss)
        start = time.perf_counter()
        if cfg.mode == "ridge":  # closed form: one fit, nothing to resume or to choose between
            history = [train_ridge(net, train_data, cfg.seed)]
            if scored is not None:
                history[0] |= scored(net)
        else:
            history = train(
                net,
                train_data,
                cfg,
                evaluate=scored,
                progress=progress,
                checkpoints=Checkpoints(files, save_best),
                resume=resume,
            )
        seconds = time.perf_counter() - start
        if not main:
            return None
        scores = float_scores(net, test_data)
        acc = scores["accuracy"]
        activity = {k: v for k, v in scores.items() if k != "accuracy"}
        save_model(
            net,
            out,
            task=task,
            train=info(seconds=seconds, float_accuracy=acc, **activity),
            samples=samples,
        )
    return TrainResult(Path(out), net, test_data, acc, seconds, history, cfg.settings())


def settings_of(**settings: Any) -> TrainConfig:
    """The :class:`TrainConfig` of a run; a combination it refuses is the user's error."""
    try:
        return TrainConfig(**settings)
    except ValueError as err:
        raise UserError(str(err)) from None


def run_epochs(epochs: int | None, default: int, out: str | Path, resume: bool) -> int:
    """Epochs of a run: those asked for; else, resuming, those the run was asked for (so
    ``--resume`` alone finishes it as it was); else ``default``."""
    if epochs is not None:
        return epochs
    return recorded_epochs(RunFiles.beside(out)) if resume else default


def recipe_config(
    task: str,
    n_in: int,
    n_classes: int,
    resolution: int = 1,
    per_synapse: bool = False,
    timing: str | None = None,
) -> dict[str, Any]:
    """The network config of built-in ``task``'s recipe at ``resolution``: the same physical
    time constants at an r times finer step, ``alpha -> alpha**(1/r)`` (``F / r``)."""
    r = recipe(task)
    neuron = {**r["network"], "per_synapse": per_synapse or r["network"].get("per_synapse", False)}
    if timing:
        neuron["timing"] = timing
    if resolution != 1:
        neuron["F"] = neuron["F"] / resolution
    return dense_config(n_in, r["hidden"], n_classes, readout="task", **neuron)


def train_task(
    task: str,
    out: str | Path,
    epochs: int | None = None,
    seed: int = 0,
    mode: str | None = None,
    resolution: int = 1,
    per_synapse: bool = False,
    timing: str | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    loss: str | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    credit: str | None = None,
    progress: bool | None = None,
    device: str = "auto",
    resume: bool = False,
    spike_cost: float = 0.0,
    spike_target: float | None = None,
    overwrite: bool = False,
    init: str | Path | None = None,
) -> TrainResult | None:
    """Train the recipe of built-in ``task`` and save ``model.pt`` at ``out``.

    ``epochs``, ``lr``, ``batch_size``, ``mode``, ``loss`` and ``credit`` default to the
    recipe's (online, cross-entropy, one-step credit unless it says otherwise; ``epochs``,
    resuming: the run's); ``spike_cost`` and ``spike_target`` add the spike term
    (:class:`TrainConfig`). The best epoch is chosen on a validation split of its own seed
    (``split_seed``), the size of the test split. ``resume``, ``overwrite``, ``init``: as
    :func:`train_and_save`.
    """
    r = recipe(task)
    params = {**r["task"], "resolution": resolution}
    n_train = r["n_train"] if n_train is None else n_train
    n_test = r["n_test"] if n_test is None else n_test
    if n_train < 1 or n_test < 1:
        raise UserError(f"--n-train and --n-test must be at least 1, got {n_train}, {n_test}")
    asked = f"--n-train {n_train} and --n-test {n_test} (3 splits) at --resolution {resolution}"
    check_task_memory(task, n_train + 2 * n_test, params, asked)
    train_data = make_task(task, n_train, seed=split_seed(seed, "train"), **params)
    test_data = make_task(task, n_test, seed=split_seed(seed, "test"), **params)
    valid = make_task(task, n_test, seed=split_seed(seed, "valid"), **params)
    config = recipe_config(
        task, train_data.x.shape[-1], train_data.n_classes, resolution, per_synapse, timing
    )
    epochs = run_epochs(epochs, r["train"]["epochs"], out, resume)
    given = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "credit": credit}
    given |= {"mode": mode, "loss": loss, "spike_cost": spike_cost, "spike_target": spike_target}
    cfg = settings_of(
        seed=seed,
        device=device,
        **{**r["train"], **{k: v for k, v in given.items() if v is not None}},
    )
    info = {"name": task, "params": params, "seed": seed, "n_train": n_train, "n_test": n_test}
    return train_and_save(
        config,
        train_data,
        test_data,
        cfg,
        out,
        info,
        progress=progress,
        valid=valid,
        resume=resume,
        overwrite=overwrite,
        init=init,
    )


def train_user(
    net_path: str | Path,
    data: str | Path,
    out: str | Path,
    *,
    bins: int | None = None,
    seed: int = 0,
    valid_fraction: float | None = None,
    workers: int = 0,
    progress: bool | None = None,
    device: str = "auto",
    resume: bool = False,
    overwrite: bool = False,
    init: str | Path | None = None,
    **settings: Any,
) -> TrainResult | None:
    """Train the network of ``net.toml`` on the data folder ``data`` and save ``out``.

    ``settings`` (``epochs``, ``lr``, ``batch_size``, ``mode``, ``loss``, ``credit``,
    ``spike_cost``, ``spike_target``; None: the default) override
    :data:`sg_lava.data.recipes.DATA_RECIPE`. The best epoch is chosen on a stratified
    ``valid_fraction`` of the training data (the recipe's by default; 0: no
    validation, no best model); the test split is measured once, at the end. The model file
    keeps the first training samples (export calibrates on them) and the first test samples
    (verify replays them), so it needs the data folder no more.
    """
    from sg_lava.data.userdata import open_data
    from sg_lava.model.netfile import build_network, output_classes, read_net_toml

    config = read_net_toml(net_path, DATA_RECIPE["network"], DATA_RECIPE["output_layer"])
    net = build_network(config, str(net_path))
    classes = output_classes(net, str(net_path))
    readout = net.config["readout"]
    user = open_data(data, classes, tuple(net.input_shape), bins, workers, readout)
    given = {k: v for k, v in settings.items() if v is not None}
    if given.get("mode", DATA_RECIPE["train"]["mode"]) == "ridge":
        gradient = sorted(k for k in RIDGE_REFUSES if given.get(k))
        if gradient:
            names = ", ".join("--" + k.replace("_", "-") for k in gradient)
            raise UserError(
                f"{names}: gradient training settings; the --data recipe fits in closed form "
                "(--mode ridge, docs/real_data.md): give --mode online or bptt to use them"
            )
    epochs = run_epochs(given.get("epochs"), DATA_RECIPE["train"]["epochs"], out, resume)
    cfg = settings_of(
        seed=seed, device=device, **{**DATA_RECIPE["train"], **given, "epochs": epochs}
    )
    if valid_fraction is None:  # ridge has no epochs to choose between: it fits on all
        valid_fraction = 0.0 if cfg.mode == "ridge" else DATA_RECIPE["valid_fraction"]
    train_data, valid = user.split_valid(valid_fraction, seed)
    samples = kept_samples(train_data, user.test)
    task = {
        "name": "data",
        **user.info,
        "net": str(Path(net_path).resolve()),
        "valid_fraction": valid_fraction,
    }
    return train_and_save(
        config,
        train_data,
        user.test,
        cfg,
        out,
        task,
        samples,
        progress,
        valid,
        resume,
        overwrite=overwrite,
        init=init,
    )
