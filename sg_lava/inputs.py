"""Network inputs from files: ``.npy`` arrays of (batch, T, *input_shape) (numpy only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sg_lava.errors import UserError


def load_input_array(path: str | Path, input_shape: tuple[int, ...]) -> np.ndarray:
    """Read a .npy of (B, T, *input_shape) or (T, *input_shape) as float64 (B, T, ...)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"input file not found: {path}")
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise UserError(f"{path} is not a readable .npy array ({str(err)[:80]})") from None
    if x.ndim == len(input_shape) + 1:
        x = x[None]
    if x.ndim != len(input_shape) + 2 or tuple(x.shape[2:]) != tuple(input_shape):
        want = ", ".join(str(n) for n in input_shape)
        raise UserError(f"{path} has shape {x.shape}; expected (batch, T, {want})")
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
        raise UserError(f"{path} must hold finite numbers")
    return x.astype(np.float64)
