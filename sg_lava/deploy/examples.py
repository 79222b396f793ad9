"""What every deploy example does (``deploy_examples/``): train, then deploy and report.

The examples' command lines live in :mod:`sg_lava.cli.examples`; these functions take plain
values.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sg_lava.data.streaming import StreamData
from sg_lava.deploy.pipeline import Pipeline
from sg_lava.deploy.report import deploy, finish
from sg_lava.model.modelfile import kept_samples
from sg_lava.training.config import TrainConfig
from sg_lava.training.experiment import train_and_save, train_task


def run_synthetic(
    task: str,
    folder: str | Path,
    title: str,
    *,
    lava_samples: int = 100,
    progress: bool = True,
    **train_options: Any,
) -> int:
    """Train built-in ``task``'s recipe into ``folder``, then deploy and verify it on Lava;
    returns the exit code (0 when Lava matched spike for spike)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    res = train_task(task, folder / "model.pt", progress=progress, **train_options)
    dep = deploy(Pipeline(res.path), folder, res.test, lava_samples, progress)
    return finish(dep, title)


def run_dataset(
    name: str,
    title: str,
    config: dict,
    train: StreamData,
    test: StreamData,
    cfg: TrainConfig,
    folder: str | Path,
    *,
    verify_samples: int = 100,
    progress: bool = True,
    workers: int = 1,
    stored_test: int = 4,
    resume: bool = False,
    overwrite: bool = False,
) -> int:
    """Train on a streamed split (read out over the second half of each sample), then
    deploy: the whole test split through the integer reference, ``verify_samples`` of it
    on Lava over ``workers`` runtimes. The test split is read into memory once. ``resume``
    and ``overwrite``: an earlier run in ``folder`` (:func:`train_and_save`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    test_data = test.head(len(test))
    samples = kept_samples(train, test_data, n_test=stored_test)
    start = time.perf_counter()
    res = train_and_save(
        config,
        train,
        test_data,
        cfg,
        folder / "model.pt",
        {"name": name},
        samples,
        progress,
        resume=resume,
        overwrite=overwrite,
    )
    seconds = time.perf_counter() - start
    print(f"trained {name} in {seconds:.0f} s ({cfg.mode}, {cfg.epochs} epochs)", flush=True)
    dep = deploy(Pipeline(res.path), folder, test_data, verify_samples, progress, workers)
    return finish(dep, title)
