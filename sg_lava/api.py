"""The API functions that take file paths: what ``sg-export``, ``sg-lava verify`` and
``sg-lava evaluate`` do, as functions with real signatures.

Torch-free on import (each function imports what it needs when called), so that
``import sg_lava`` stays light; ``sg_lava/__init__.py`` re-exports them beside the library's
own functions. Each goes through the one path the command line takes,
:class:`sg_lava.deploy.pipeline.Pipeline`, so ``sg_lava.export`` writes what ``sg-export``
writes and ``sg_lava.verify`` checks what ``sg-lava verify`` checks. ``docs/api.md`` lists
the signatures (``tests/test_api.py`` compares them).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from sg_lava.data.tasks import TaskData
    from sg_lava.deploy.pipeline import ExportResult
    from sg_lava.deploy.verify import VerifyResult
    from sg_lava.export.qnet import FixedPointSpec, QuantizedNetwork
    from sg_lava.model.network import GammaNetwork
    from sg_lava.reference.quantize import LayerReport


def quantize(
    net: GammaNetwork,
    *,
    calibration: torch.Tensor | None = None,
    spec: FixedPointSpec | None = None,
) -> tuple[QuantizedNetwork, list[LayerReport]]:
    """The integer network of ``net`` (``docs/fixed_point.md``) and a per-layer report;
    ``calibration`` inputs (batch, T, *input_shape) choose each layer's scale."""
    from sg_lava.reference.quantize import quantize_network

    return quantize_network(net, calibration=calibration, spec=spec)


def export(
    model_path: str | Path, net_path: str | Path, *, allow_saturation: bool = False
) -> ExportResult:
    """Quantise ``model.pt`` (calibrated on its own data) and write ``net.h5``
    (``sg-export``)."""
    from sg_lava.deploy.pipeline import Pipeline

    return Pipeline(model_path).export(net_path, allow_saturation=allow_saturation)


def verify(
    model_path: str | Path,
    net_path: str | Path,
    *,
    samples: int = 4,
    steps: int | None = None,
    backend: str = "fixed",
    workers: int = 1,
) -> VerifyResult:
    """Run ``net.h5`` on Lava and compare it, spike for spike, with the model's reference
    on ``samples`` of the model's held-out inputs (``sg-lava verify``)."""
    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.export import hdf5

    pipe = Pipeline(model_path)
    x = pipe.verification_inputs(samples, steps)
    return pipe.verify(hdf5.read(net_path), x, backend, workers=workers)


def evaluate(
    model_path: str | Path, net_path: str | Path, data: TaskData, *, device: str | None = None
) -> dict:
    """Accuracy of the float model and of the integers ``net.h5`` holds on ``data``, their
    agreement, saturation and spike rates (``sg-lava evaluate --json``)."""
    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.export import hdf5

    pipe = Pipeline(model_path, device)
    return pipe.evaluate(hdf5.read(net_path), data).as_dict()
