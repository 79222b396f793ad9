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
from sg_lava.training import float_accuracy
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


def evaluate(model_path: str | Path, net_path: str | Path, data: TaskData) -> dict[str, float]:
    """Accuracy on ``data`` of the float model and of the integer network in ``net.h5``.

    The integer accuracy is that of the network the file holds; a file that is not the
    model's export is refused by :meth:`Pipeline.verify`, not here: run :func:`verify`.
    """
    pipe = Pipeline(model_path)
    qfile = hdf5.read(net_path)
    if tuple(qfile.input_shape) != tuple(pipe.net.input_shape):
        from sg_lava.errors import UserError

        raise UserError(
            f"{net_path} takes input {qfile.input_shape}, the model {pipe.net.input_shape}"
        )
    return {
        "float_accuracy": float_accuracy(pipe.net, data),
        "fixed_accuracy": pipe.fixed_accuracy(data),
    }
