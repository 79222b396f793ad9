"""``make demo``: train delay detection online, export, run on Lava, verify, report.

The main job of the README: everything sg-lava promises, in one command, on a task that
runs anywhere. Output goes to one folder (``demo_out`` by default).
"""

from __future__ import annotations

import time
from pathlib import Path

from sg_lava.deploy.pipeline import Pipeline
from sg_lava.deploy.report import deploy, finish
from sg_lava.training.experiment import train_task


def run_demo(
    out: str | Path = "demo_out",
    epochs: int | None = None,
    seed: int = 0,
    lava_samples: int = 150,
    progress: bool = True,
) -> int:
    """Run the demo; returns the exit code (0 when Lava verified spike for spike)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    print(f"sg-lava demo: delay detection, output in {folder}/", flush=True)
    print("1/3 training online (float, PyTorch) ...", flush=True)
    model = folder / "model.pt"
    # the demo's folder is its own: a second demo replaces the first one's run
    trained = train_task(
        "delay", out=model, epochs=epochs, seed=seed, progress=progress, overwrite=True
    )
    print(
        f"    trained in {trained.seconds:.0f} s: accuracy {trained.float_accuracy:.4f}",
        flush=True,
    )
    print("2/3 exporting net.h5 and verifying Lava (Loihi2SimCfg, fixed_pt) ...", flush=True)
    dep = deploy(Pipeline(trained.path), folder, trained.test, lava_samples, progress)
    print("3/3 report", flush=True)
    title = "sg-lava demo: delay detection, trained online, verified on Lava"
    return finish(dep, title, f"\nTotal time: {time.perf_counter() - start:.0f} s.\n")
