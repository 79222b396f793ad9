"""The user's own data set: a folder with one ``.npz`` per split (numpy only).

``DIR/<split>.npz`` holds ``x``, float, (n, T, *input_shape), and ``y``, (n,) labels. Every
problem is a :class:`~sg_lava.errors.UserError` with one line that names the file and what
is wrong, so the command line can report it without a traceback.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from sg_lava.errors import UserError

KEYS = ("x", "y")


def split_path(folder: str | Path, split: str) -> Path:
    """``folder/<split>.npz``; a missing folder or file raises one clear line."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"data folder not found: {folder}")
    path = folder / f"{split}.npz"
    if not path.is_file():
        raise UserError(f"{path} not found: expected arrays x (n, T, ...) and y (n,) in it")
    return path


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in KEYS if k not in z.files]
            if missing:
                raise UserError(f"{path} has no array {missing[0]!r} (it holds {sorted(z.files)})")
            return {k: np.asarray(z[k]) for k in KEYS}
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise UserError(f"{path} is not a readable .npz file ({str(err)[:80]})") from None


def check_split(
    path: Path, x: np.ndarray, y: np.ndarray, input_shape: tuple[int, ...] | None
) -> None:
    """Shapes, dtypes and values of one split; raises one line for the first problem."""
    if not np.issubdtype(x.dtype, np.number):
        raise UserError(f"{path}: x must be numeric, got {x.dtype}")
    if x.ndim < 3:
        raise UserError(f"{path}: x has shape {x.shape}; expected (n, T, *input_shape)")
    if input_shape is not None and tuple(x.shape[2:]) != tuple(input_shape):
        want = ", ".join(str(n) for n in input_shape)
        raise UserError(f"{path}: x has shape {x.shape}; the network expects (n, T, {want})")
    if y.shape != (x.shape[0],):
        raise UserError(f"{path}: y has shape {y.shape}; expected ({x.shape[0]},), one per sample")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{path}: x holds NaN or infinite values")


def load_npz_split(
    folder: str | Path, split: str, input_shape: tuple[int, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of ``folder/<split>.npz``: x float64 (n, T, *input_shape), y (n,)."""
    path = split_path(folder, split)
    arrays = _read(path)
    x, y = arrays["x"], arrays["y"]
    check_split(path, x, y, input_shape)
    return x.astype(np.float64), y
