"""What training is given, checked where it comes in: one line per problem, not a traceback
from deep inside the first batch.

``sg_lava.train`` (and every trainer of this package) calls :func:`check_training_data` first;
a :class:`~sg_lava.data.tasks.TaskData` is checked whole (it is in memory), a streamed split
by what it declares (its samples are checked as they are read).
"""

from __future__ import annotations

from typing import Any

import torch

from sg_lava.data.streaming import StreamData
from sg_lava.data.tasks import TaskData
from sg_lava.errors import UserError
from sg_lava.model.network import GammaNetwork
from sg_lava.training.config import TrainConfig


def output_size(net: GammaNetwork) -> int:
    """Classes the network reads out (its last layer's outputs)."""
    return int(net.shapes[-1][1][0])


def check_training_data(net: Any, data: Any, cfg: Any) -> None:
    """Refuse, in one line, a network, data or config that training cannot use."""
    if not isinstance(net, GammaNetwork):
        raise UserError(f"net must be a sg_lava.GammaNetwork, got {type(net).__name__}")
    if not isinstance(cfg, TrainConfig):
        raise UserError(f"cfg must be a sg_lava.TrainConfig, got {type(cfg).__name__}")
    if not isinstance(data, (TaskData, StreamData)):
        raise UserError(
            f"data must be a TaskData (x, y, mask, n_classes) or StreamData, got "
            f"{type(data).__name__}"
        )
    if len(data) < 1:
        raise UserError("data holds no samples")
    if data.n_classes != output_size(net):
        raise UserError(
            f"data has {data.n_classes} classes but the network reads out {output_size(net)}"
        )
    if isinstance(data, TaskData):
        check_task_data(data, tuple(net.input_shape))


def check_task_data(data: TaskData, input_shape: tuple[int, ...]) -> None:
    """Shapes, types and values of an in-memory split against a network's input shape."""
    x, y, mask = data.x, data.y, data.mask
    for name, t in (("x", x), ("y", y), ("mask", mask)):
        if not isinstance(t, torch.Tensor):
            raise UserError(f"data.{name} must be a torch.Tensor, got {type(t).__name__}")
    want = ", ".join(str(n) for n in input_shape)
    if x.ndim != len(input_shape) + 2 or tuple(x.shape[2:]) != input_shape:
        raise UserError(f"data.x has shape {tuple(x.shape)}; the network takes (n, T, {want})")
    if not x.is_floating_point() or not bool(torch.isfinite(x).all()):
        raise UserError(f"data.x must hold finite floating-point numbers (it is {x.dtype})")
    n, T = x.shape[:2]
    if y.shape != (n,) or y.dtype != torch.int64:
        raise UserError(
            f"data.y must be ({n},) int64 labels, got {tuple(y.shape)} {y.dtype} (labels: y.long())"
        )
    if int(y.min()) < 0 or int(y.max()) >= data.n_classes:
        raise UserError(
            f"data.y must lie in [0, {data.n_classes}), found {int(y.min())}..{int(y.max())}"
        )
    if mask.shape != (n, T) or mask.dtype != torch.bool:
        raise UserError(
            f"data.mask must be ({n}, {T}) bool, the steps read out, got {tuple(mask.shape)} "
            f"{mask.dtype} (from 0/1 values: mask.bool())"
        )
    if not bool(mask.any(1).all()):
        raise UserError("data.mask reads out no step of some samples: each needs at least one")
