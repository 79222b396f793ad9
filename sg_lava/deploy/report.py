"""A deployment, measured and written up: float, fixed point and Lava on held-out data.

Shared by ``make demo`` (``sg-lava demo``) and the deploy examples: export ``net.h5``
through a :class:`~sg_lava.deploy.pipeline.Pipeline`, run the test set on Lava once, compare it
with the reference spike for spike, draw the rasters and write ``report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sg_lava.data.tasks import TaskData
from sg_lava.deploy.pipeline import Pipeline
from sg_lava.deploy.rasters import plot_rasters
from sg_lava.deploy.verify import VerifyResult
from sg_lava.export import hdf5
from sg_lava.files import atomic_write
from sg_lava.model.timing import pad_steps, predict, shift_mask


@dataclass
class Deployment:
    """Everything the report says."""

    folder: Path
    float_accuracy: float
    fixed_accuracy: float
    lava_accuracy: float
    lava_samples: int
    lava_matches_fixed: bool
    spikes_per_neuron_step: dict  # Evaluation's: {"layers": [...], "total": ...}
    synops_per_inference: dict
    sizes: dict[str, int]
    verify: VerifyResult
    export_report: str

    def report(self, title: str) -> str:
        spikes, ops = self.spikes_per_neuron_step, self.synops_per_inference
        rates = ", ".join(f"layer {i}: {r:.3f}" for i, r in enumerate(spikes["layers"]))
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
            "## Activity (the exported integers on the test set)",
            "",
            f"Hidden spikes per neuron per step: {rates} (all hidden: {spikes['total']:.3f}).",
            f"Synaptic operations per inference (events x fan-out, what Loihi 2 pays for): "
            f"{ops['total']:.0f} ({', '.join(f'{v:.0f}' for v in ops['layers'])} by layer).",
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
    workers: int = 1,
) -> Deployment:
    """Export; evaluate the whole test set through the float model and the file's integers
    (batched); run the first ``lava_samples`` on Lava (``workers`` runtimes) and verify."""
    folder.mkdir(parents=True, exist_ok=True)
    net_path = folder / "net.h5"
    exported = pipe.export(net_path)
    qfile = hdf5.read(net_path)
    lag = qfile.latency
    n = min(lava_samples, len(test))
    ev = pipe.evaluate(qfile, test, progress=progress, keep=n)
    # the test set's integer run is the verification's reference when the file is the
    # model's own quantisation in Lava timing: no second run
    same = qfile.timing == "lava" and not ev.file_differs
    x, mask = pad_steps(test.x[:n], lag), shift_mask(test.mask[:n], lag)
    res = pipe.verify(
        qfile,
        x,
        reference=ev.reference if same else None,
        progress=progress,
        workers=workers,
        window=mask,
        labels=test.y[:n],
    )
    plot_rasters(res, folder / "raster.png")
    lava_pred = predict(torch.as_tensor(res.lava[-1]).double(), mask).numpy()
    fixed_pred = predict(torch.as_tensor(res.reference[-1]).double(), mask).numpy()
    return Deployment(
        folder,
        ev.float_accuracy,
        ev.fixed_accuracy,
        float(np.mean(lava_pred == test.y.numpy()[:n])),
        n,
        bool(np.array_equal(lava_pred, fixed_pred)),
        ev.spikes_per_neuron_step,
        ev.synops_per_inference,
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
