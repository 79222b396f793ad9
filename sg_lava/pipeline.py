"""From a trained model to a verified Lava deployment, with a report a person can read.

Shared by ``make demo`` (``sg-lava demo``) and the deploy examples: export ``net.h5``,
verify Lava against the integer reference spike for spike, draw the rasters, measure the
accuracy of float, fixed point and Lava on held-out data, and write ``report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sg_lava.exporter import export_model, format_report
from sg_lava.fixed import FixedNetwork
from sg_lava.model_io import load_model
from sg_lava.processes.network import run_samples
from sg_lava.tasks import TaskData
from sg_lava.training import float_accuracy, pad_steps, predict, shift_mask
from sg_lava.verify import VerifyResult, plot_rasters, verify


@dataclass
class Deployment:
    """Everything the report says."""

    folder: Path
    float_accuracy: float
    fixed_accuracy: float
    lava_accuracy: float
    lava_samples: int
    lava_matches_fixed: bool
    spike_rates: list[float]
    sizes: dict[str, int]
    verify: VerifyResult
    export_report: str

    def report(self, title: str) -> str:
        rates = ", ".join(f"layer {i}: {r:.3f}" for i, r in enumerate(self.spike_rates))
        lines = [
            f"# {title}",
            "",
            "| | accuracy |",
            "|---|---|",
            f"| float model (PyTorch) | {self.float_accuracy:.4f} |",
            f"| fixed-point reference (integers) | {self.fixed_accuracy:.4f} |",
            f"| Lava, Loihi2SimCfg fixed_pt ({self.lava_samples} samples) | {self.lava_accuracy:.4f} |",
            "",
            f"Lava predictions equal the fixed-point reference's on those samples: "
            f"{'yes' if self.lava_matches_fixed else 'NO'}.",
            "",
            f"Spikes per neuron per step (hidden layers, fixed point, test set): {rates}.",
            "",
            "Files: " + ", ".join(f"`{k}` {v / 1024:.1f} KiB" for k, v in self.sizes.items()) + ".",
            "",
            "## Quantisation",
            "",
            "```",
            self.export_report,
            "```",
            "",
            "## Verification (Lava vs fixed-point reference)",
            "",
            "```",
            self.verify.table(),
            self.verify.summary_line(),
            "```",
            "",
            "![rasters](raster.png)",
        ]
        return "\n".join(lines) + "\n"


def lava_predictions(
    qnet, x_int: np.ndarray, mask: torch.Tensor, progress: bool = True
) -> np.ndarray:
    """Classes predicted from Lava's output readout, one compiled network for all samples."""
    out = run_samples(qnet, x_int, progress=progress)[-1]
    return predict(torch.as_tensor(out).double(), mask).numpy()


def deploy(
    model_path: Path,
    folder: Path,
    test: TaskData,
    verify_samples: int = 8,
    lava_samples: int = 150,
    progress: bool = True,
) -> Deployment:
    """Export, verify and evaluate a trained model; files go to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    net_path = folder / "net.h5"
    exported = export_model(model_path, net_path)
    qnet = exported.qnet
    res = verify(model_path, net_path, samples=verify_samples)
    plot_rasters(res, folder / "raster.png")
    net, _ = load_model(model_path)
    lag = qnet.latency
    x = pad_steps(test.x, lag)
    mask = shift_mask(test.mask, lag)
    x_int = qnet.quantize_input(x.numpy())
    out, spikes, _ = FixedNetwork(qnet).run(x_int)
    fixed_pred = predict(out.double(), mask).numpy()
    fixed_acc = float(np.mean(fixed_pred == test.y.numpy()))
    rates = [float(np.count_nonzero(s.numpy()) / s.numel()) for s in spikes]
    n = min(lava_samples, len(test))
    lava_pred = lava_predictions(qnet, x_int[:n], mask[:n], progress)
    lava_acc = float(np.mean(lava_pred == test.y.numpy()[:n]))
    sizes = {p.name: p.stat().st_size for p in (Path(model_path), net_path)}
    return Deployment(
        folder,
        float_accuracy(net, test),
        fixed_acc,
        lava_acc,
        n,
        bool(np.array_equal(lava_pred, fixed_pred[:n])),
        rates,
        sizes,
        res,
        format_report(exported),
    )


def finish(dep: Deployment, title: str, extra: str = "") -> int:
    """Write ``report.md``, print it and end with the verify line; returns the exit code."""
    from sg_lava.files import atomic_write

    report = dep.report(title) + extra
    atomic_write(dep.folder / "report.md", lambda f: f.write(report.encode()))
    print(report)
    print(f"files in {dep.folder}/: model.pt, net.h5, raster.png, report.md")
    print(dep.verify.summary_line())
    return 0 if dep.verify.ok and dep.lava_matches_fixed else 1


def train_and_deploy(
    name: str,
    config: dict,
    train_data: TaskData,
    test_data: TaskData,
    folder: Path,
    cfg,
    verify_samples: int = 4,
    lava_samples: int = 50,
    progress: bool = True,
) -> Deployment:
    """Train a network on data (e.g. a dataset), save it with a few of its inputs, deploy."""
    import time

    from sg_lava.model_io import save_model
    from sg_lava.network import GammaNetwork
    from sg_lava.training import seed_everything, train

    seed_everything(cfg.seed)
    folder.mkdir(parents=True, exist_ok=True)
    net = GammaNetwork(config)
    start = time.perf_counter()
    train(net, train_data, cfg, progress=progress)
    seconds = time.perf_counter() - start
    model = folder / "model.pt"
    save_model(
        net,
        model,
        task={"name": name},
        train={"mode": cfg.mode, "epochs": cfg.epochs, "seed": cfg.seed, "seconds": seconds},
        samples={"calibration": train_data.x[:64], "test": test_data.x[:verify_samples]},
    )
    print(f"trained {name} in {seconds:.0f} s ({cfg.mode}, {cfg.epochs} epochs)", flush=True)
    return deploy(model, folder, test_data, verify_samples, lava_samples, progress)
