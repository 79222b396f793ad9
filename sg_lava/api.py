"""The API functions: what ``sg-lava train``, ``sg-export``, ``sg-lava verify`` and
``sg-lava evaluate`` do, as functions with real signatures, plus :func:`predict`.

Torch-free on import (each function imports what it needs when called), so that
``import sg_lava`` stays light; ``sg_lava/__init__.py`` re-exports them beside the library's
own functions. Each goes through the one path the command line takes (the training loop;
:class:`sg_lava.deploy.pipeline.Pipeline`), so ``sg_lava.export`` writes what ``sg-export``
writes and ``sg_lava.verify`` checks what ``sg-lava verify`` checks. Networks may be given
as objects in memory or as files. ``docs/api.md`` lists the signatures
(``tests/test_api.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

    from sg_lava.data.streaming import StreamData
    from sg_lava.data.tasks import TaskData
    from sg_lava.deploy.pipeline import ExportResult
    from sg_lava.deploy.verify import VerifyResult
    from sg_lava.export.qnet import FixedPointSpec, QuantizedNetwork
    from sg_lava.model.network import GammaNetwork
    from sg_lava.reference.quantize import LayerReport
    from sg_lava.training.checkpoints import Checkpoints
    from sg_lava.training.config import TrainConfig


@dataclass
class TrainRun:
    """What :func:`train` returns: the trained network and one history entry per epoch."""

    net: GammaNetwork
    history: list[dict]


def train(
    net: GammaNetwork | dict[str, Any],
    data: TaskData | StreamData,
    cfg: TrainConfig,
    *,
    evaluate: Callable[[GammaNetwork], float | dict[str, float]] | None = None,
    progress: bool | None = None,
    checkpoints: Checkpoints | None = None,
    resume: bool = False,
) -> TrainRun:
    """Train online or by BPTT (``sg-lava train``); ``cfg.seed`` seeds every draw.

    ``net``: a network config (a dict, ``docs/data.md``): the network is built after
    seeding python, numpy and torch with ``cfg.seed``, so one seed fixes the initial
    weights, the data order and every other draw, as ``sg-lava train --seed`` does. Or a
    :class:`GammaNetwork`: trained in place from the weights it has (fine-tuning), after
    the same seeding. Data, network and config are checked first (one-line errors).
    """
    from sg_lava.training.experiment import seeded_network
    from sg_lava.training.loop import seed_everything
    from sg_lava.training.loop import train as train_loop

    if isinstance(net, dict):
        net = seeded_network(net, getattr(cfg, "seed", 0))
    else:
        seed_everything(getattr(cfg, "seed", 0))
    history = train_loop(
        net,
        data,
        cfg,
        evaluate=evaluate,
        progress=progress,
        checkpoints=checkpoints,
        resume=resume,
    )
    return TrainRun(net, history)


def predict(
    model: GammaNetwork | str | Path,
    x: TaskData | torch.Tensor | np.ndarray,
    *,
    mask: torch.Tensor | np.ndarray | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """The class of each sample of ``x`` by the float model (a network or a model file).

    ``x``: inputs (n, T, *input_shape) or one sample (T, *input_shape), or a ``TaskData``.
    The class is the output summed over the readout window, argmax: ``mask`` (n, T) if
    given, else the data's own, else the window of the network's ``readout`` setting
    (:func:`sg_lava.model.readout.readout_mask`; ``second-half`` unless the config says
    otherwise).
    """
    import numpy as np
    import torch

    from sg_lava.data.tasks import TaskData
    from sg_lava.errors import UserError
    from sg_lava.export.inputs import check_input_array
    from sg_lava.model.modelfile import load_model
    from sg_lava.model.network import GammaNetwork
    from sg_lava.model.readout import float_classes, readout_mask

    if not isinstance(model, GammaNetwork):
        model = load_model(model)[0]
    if isinstance(x, TaskData):
        mask = x.mask if mask is None else mask
        x = x.x
    shape = tuple(model.input_shape)
    inputs = torch.as_tensor(check_input_array(x, shape), dtype=torch.float32)
    n, steps = inputs.shape[:2]
    if mask is None:
        window = readout_mask(model, n, steps)
    else:
        window = torch.as_tensor(np.asarray(mask))
        if window.ndim == 1:
            window = window[None]
        if tuple(window.shape) != (n, steps) or window.dtype != torch.bool:
            raise UserError(
                f"mask must be ({n}, {steps}) bool, got {tuple(window.shape)} {window.dtype}"
            )
    dtype = next(model.parameters()).dtype
    return float_classes(model, inputs.to(dtype), window, batch_size).numpy()


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


def _pipeline(
    model: GammaNetwork | str | Path, net: QuantizedNetwork | str | Path, device: str | None = None
):
    """The deployment of ``model`` and the integer network ``net`` (itself, or read from
    ``net.h5``). A model in memory takes ``net`` as its own quantisation: it records no
    calibration inputs to quantise it again as its export was."""
    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.export import hdf5
    from sg_lava.export.qnet import QuantizedNetwork

    pipe = Pipeline(model, device)
    qnet = net if isinstance(net, QuantizedNetwork) else hdf5.read(net)
    if pipe.model_path is None:
        pipe.assume_quantized(qnet)
    return pipe, qnet


def verify(
    model: GammaNetwork | str | Path,
    net: QuantizedNetwork | str | Path,
    *,
    samples: int = 4,
    steps: int | None = None,
    backend: str = "fixed",
    workers: int = 1,
    inputs: str | Path | np.ndarray | torch.Tensor | None = None,
) -> VerifyResult:
    """Run the integer network (``net.h5``, or one in memory) on Lava and compare it, spike
    for spike, with the model's reference (``sg-lava verify``): on ``inputs`` (a ``.npy``
    file or an array of (batch, T, *input_shape)), else on ``samples`` of the model file's
    held-out inputs. ``model``: ``model.pt``, whose own quantisation is the reference (so a
    file that does not carry it is caught), or a network in memory, whose reference is then
    ``net``'s integers."""
    pipe, qnet = _pipeline(model, net)
    x, window, labels = pipe.verification_data(samples, steps, inputs)
    return pipe.verify(qnet, x, backend, workers=workers, window=window, labels=labels)


def evaluate(
    model: GammaNetwork | str | Path,
    net: QuantizedNetwork | str | Path,
    data: TaskData,
    *,
    device: str | None = None,
) -> dict:
    """Accuracy of the float model and of the integer network (``net.h5``, or one in
    memory) on ``data``, their agreement, saturation and spike rates (``sg-lava evaluate
    --json``). ``model``: ``model.pt`` or a network in memory."""
    pipe, qnet = _pipeline(model, net, device)
    return pipe.evaluate(qnet, data).as_dict()
