"""A user's own data: ``DIR/train.npz`` and ``DIR/test.npz`` with arrays ``x`` and ``y``.

``x`` is (n, T, *input_shape) float, ``y`` (n,) integer class labels in [0, classes). The
class is read out over the second half of each sample (the loss and the prediction use those
steps), as for the dataset examples. Every problem with a file is one clear line naming the
file (:class:`~sg_lava.errors.UserError`). ``docs/data.md`` documents the format.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from sg_lava.errors import UserError
from sg_lava.tasks import TaskData


def second_half_mask(n: int, T: int) -> torch.Tensor:
    """Readout mask (n, T): the second half of every sample."""
    return (torch.arange(T) >= T // 2).expand(n, T).clone()


def load_split(
    folder: str | Path,
    split: str,
    n_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> TaskData:
    """``DIR/<split>.npz`` as a :class:`TaskData`; ``n_classes`` defaults to max(y) + 1.

    With ``input_shape``, samples of another shape are refused (they do not fit the network).
    """
    if not Path(folder).is_dir():
        raise UserError(f"data folder not found: {folder}")
    path = Path(folder) / f"{split}.npz"
    if not path.is_file():
        raise UserError(f"{path}: not found (expected arrays x and y)")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x", "y") if k not in f]
            if missing:
                raise UserError(f"{path}: missing array {missing[0]!r} (has {sorted(f.files)})")
            x, y = f["x"], f["y"]
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise UserError(f"{path}: not a readable .npz file ({str(err)[:80]})") from None
    _check(path, x, y, n_classes)
    if input_shape is not None and tuple(x.shape[2:]) != tuple(input_shape):
        want = ", ".join(str(n) for n in input_shape)
        raise UserError(f"{path}: x has shape {x.shape}; the network expects (n, T, {want})")
    classes = int(n_classes if n_classes is not None else y.max() + 1)
    xt = torch.as_tensor(x.astype(np.float32))
    return TaskData(
        xt, torch.as_tensor(y.astype(np.int64)), second_half_mask(*x.shape[:2]), classes
    )


def _check(path: Path, x: np.ndarray, y: np.ndarray, n_classes: int | None) -> None:
    if x.ndim < 3:
        raise UserError(f"{path}: x must be (n, T, *input_shape), has shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise UserError(f"{path}: x must hold real numbers, has dtype {x.dtype}")
    if y.ndim != 1 or len(y) != len(x):
        raise UserError(f"{path}: y must be ({len(x)},) labels, has shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise UserError(f"{path}: y must hold integer labels, has dtype {y.dtype}")
    if len(x) == 0:
        raise UserError(f"{path}: holds no samples")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{path}: x holds NaN or infinite values")
    top = n_classes if n_classes is not None else None
    if y.min() < 0 or (top is not None and y.max() >= top):
        raise UserError(
            f"{path}: labels must lie in [0, {top or 'classes'}), found {y.min()}..{y.max()}"
        )
