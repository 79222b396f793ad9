"""Network inputs from files: ``.npy`` arrays of (batch, T, *input_shape) (numpy only).

The header (shape, type) is checked before the data is read: an ``.npz`` archive, a
complex or non-numeric type, an empty array or one too large for this machine is refused
in one line; then the values must be finite and fit the first synapse's messages.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from sg_lava.errors import UserError
from sg_lava.export.readout import check_lengths
from sg_lava.limits import memory_budget


def check_run_size(samples: int, steps: int, values_per_step: int, what: str = "the run") -> None:
    """Refuse a run whose arrays (inputs and every layer's outputs, float64, a few copies)
    would not fit in memory; ``values_per_step`` counts input and neuron values."""
    if samples < 1 or steps < 1:
        raise UserError(f"{what} needs at least 1 sample and 1 step")
    need = 4 * 8 * samples * steps * max(values_per_step, 1)
    if need > memory_budget():
        raise UserError(
            f"{what}: {samples} sample(s) x {steps} steps need about {need / 2**30:.1f} GiB, "
            f"more than this machine's {memory_budget() / 2**30:.1f} GiB budget"
        )


def load_input_array(
    path: str | Path,
    input_shape: tuple[int, ...],
    limit: float | None = None,
    values_per_step: int = 0,
) -> np.ndarray:
    """Read a .npy of (B, T, *input_shape) or (T, *input_shape) as float64 (B, T, ...),
    checked by :func:`check_input_array` before its data is read."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"input file not found: {path}")
    if zipfile.is_zipfile(path):
        raise UserError(f"{path} is an .npz archive; give one array as a .npy file")
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)  # the header only, no data yet
    except (ValueError, OSError, EOFError) as err:
        raise UserError(f"{path} is not a readable .npy array ({type(err).__name__})") from None
    return check_input_array(x, input_shape, limit, values_per_step, str(path))


def check_input_array(
    x,
    input_shape: tuple[int, ...],
    limit: float | None = None,
    values_per_step: int = 0,
    what: str = "the inputs",
) -> np.ndarray:
    """Inputs (B, T, *input_shape) or one sample (T, *input_shape) as float64 (B, T, ...).

    Refused in one line naming ``what``: a non-numeric type, another shape, no values, more
    than this machine's memory holds, NaN or inf. ``limit``: the largest |value| the network
    takes (the first synapse's message range). ``values_per_step``: neurons run per step,
    for the memory estimate. The values are read only after the shape and size checks (a
    memory-mapped file stays unread until then).
    """
    if not isinstance(x, np.ndarray):
        x = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    if x.dtype.kind not in "iufb":
        kind = "complex" if x.dtype.kind == "c" else "non-numeric"
        raise UserError(f"{what} holds {kind} values; inputs must be real numbers")
    if x.ndim == len(input_shape) + 1:
        x = x[None]
    want = ", ".join(str(n) for n in input_shape)
    if x.ndim != len(input_shape) + 2 or tuple(x.shape[2:]) != tuple(input_shape):
        raise UserError(f"{what} has shape {x.shape}; expected (batch, T, {want})")
    if x.size == 0:
        raise UserError(f"{what} is empty (shape {x.shape}); expected (batch, T, {want})")
    check_run_size(
        x.shape[0], x.shape[1], int(np.prod(input_shape)) + values_per_step, f"the input {what}"
    )
    x = np.array(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise UserError(f"{what} must hold finite numbers (it has NaN or inf)")
    if limit is not None and np.abs(x).max() > limit:
        raise UserError(
            f"{what}: values must lie in [{-limit:g}, {limit:g}] (the first synapse's "
            "24-bit messages at the file's input_frac_bits)"
        )
    return x


def load_lengths(path: str | Path, n: int, T: int) -> np.ndarray:
    """A ``.npy`` of (n,) integers in [1, T]: padded series' own lengths."""
    try:
        lengths = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable .npy file ({str(err)[:80]})") from None
    try:
        return check_lengths(lengths, n, T)
    except ValueError as err:
        raise UserError(f"{path}: {err}") from None
