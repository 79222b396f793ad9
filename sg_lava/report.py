"""A deployment, measured and written up: float, fixed point and Lava on held-out data.

Shared by ``make demo`` (``sg-lava demo``) and the deploy examples: export ``net.h5``
through a :class:`~sg_lava.pipeline.Pipeline`, run the test set on Lava once, compare it
with the reference spike for spike, draw the rasters and write ``report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sg_lava.export import hdf5
from sg_lava.files import atomic_write
from sg_lava.pipeline import Pipeline
from sg_lava.tasks import TaskData
from sg_lava.timing import pad_steps, predict, shift_mask
from sg_lava.training import float_accuracy
from sg_lava.verify import VerifyResult, plot_rasters


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
            f"| fixed-point reference (integers, the exported net.h5) | {self.fixed_accuracy:.4f} |",
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
            f"## Verification (Lava vs fixed-point reference, {self.lava_samples} samples)",
            "",
            "```",
            self.verify.table(),
            self.verify.summary_line(),
            "```",
            "",
            "![rasters](raster.png)",
        ]
        return "\n".join(lines) + "\n"


def deploy(
    pipe: Pipeline,
    folder: Path,
    test: TaskData,
    lava_samples: int = 150,
    progress: bool = True,
) -> Deployment:
    """Export, run the first ``lava_samples`` test samples on Lava once, verify, evaluate."""
    folder.mkdir(parents=True, exist_ok=True)
    net_path = folder / "net.h5"
    exported = pipe.export(net_path)
    qfile = hdf5.read(net_path)
    lag = qfile.latency
    x, mask = pad_steps(test.x, lag), shift_mask(test.mask, lag)
    fixed_acc = pipe.fixed_accuracy(test)
    ref = pipe.reference("test", x)
    fixed_pred = predict(ref.output.double(), mask).numpy()
    n = min(lava_samples, len(test))
    same_run = qfile.timing == "lava"  # the test-set reference already is Lava-timed
    res = pipe.verify(
        qfile, x[:n], reference=ref.layers(n) if same_run else None, progress=progress
    )
    plot_rasters(res, folder / "raster.png")
    lava_pred = predict(torch.as_tensor(res.lava[-1]).double(), mask[:n]).numpy()
    rates = [float(np.count_nonzero(s.numpy()) / s.numel()) for s in ref.spikes]
    return Deployment(
        folder,
        float_accuracy(pipe.net, test),
        fixed_acc,
        float(np.mean(lava_pred == test.y.numpy()[:n])),
        n,
        bool(np.array_equal(lava_pred, fixed_pred[:n])),
        rates,
        {p.name: p.stat().st_size for p in (pipe.model_path, net_path)},
        res,
        exported.table(),
    )


def finish(dep: Deployment, title: str, extra: str = "") -> int:
    """Write ``report.md``, print it and end with the verify line; returns the exit code."""
    report = dep.report(title) + extra
    atomic_write(dep.folder / "report.md", lambda f: f.write(report.encode()))
    print(report)
    print(f"files in {dep.folder}/: model.pt, net.h5, raster.png, report.md")
    print(dep.verify.summary_line())
    return 0 if dep.verify.ok and dep.lava_matches_fixed else 1
