"""The Python API's own functions: one model file to ``net.h5``, verified and measured.

Thin wrappers over :class:`~sg_lava.pipeline.Pipeline`, the one path the command line
takes, so that ``sg_lava.export``/``verify``/``evaluate`` give what ``sg-export`` and
``sg-lava verify`` give. ``import sg_lava`` exposes them lazily (``sg_lava/__init__.py``).
"""

from __future__ import annotations

from pathlib import Path

from sg_lava.export import hdf5
from sg_lava.pipeline import ExportResult, Pipeline
from sg_lava.tasks import TaskData
from sg_lava.verify import VerifyResult


def export(
    model_path: str | Path, net_path: str | Path, allow_saturation: bool = False
) -> ExportResult:
    """Quantise ``model.pt`` (calibrated on its own data) and write ``net.h5``."""
    return Pipeline(model_path).export(net_path, allow_saturation=allow_saturation)


def verify(
    model_path: str | Path,
    net_path: str | Path,
    samples: int = 4,
    steps: int | None = None,
    backend: str = "fixed",
) -> VerifyResult:
    """Run ``net.h5`` on Lava and compare it, spike for spike, with the model's reference
    on ``samples`` of the model's held-out inputs (``result.ok``, ``result.table()``)."""
    pipe = Pipeline(model_path)
    return pipe.verify(hdf5.read(net_path), pipe.verification_inputs(samples, steps), backend)


def evaluate(
    model_path: str | Path, net_path: str | Path, data: TaskData, device: str | None = None
) -> dict:
    """``sg-lava evaluate`` on ``data``: accuracy of the float model and of the integer
    network that ``net.h5`` holds, their agreement, saturation and spike rates."""
    pipe = Pipeline(model_path)
    return pipe.evaluate(hdf5.read(net_path), data, device=device).as_dict()
