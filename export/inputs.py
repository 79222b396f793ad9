"""Network inputs from files: ``.npy`` arrays of (batch, T, *input_shape) and the arrays
of ``.npz`` data files (numpy only).

The header (shape, type) is checked before the data is read: an ``.npz`` archive given as
an input, a complex or non-numeric type, an empty array or one too large for this machine
is refused in one line; then the values must be finite and fit the first synapse's
messages. An ``.npz`` member's own ``.npy`` header is read before the member is
(:func:`read_npz`), so that a small archive that inflates to terabytes stops there.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from sg_lava.errors import UserError
from sg_lava.export.readout import check_lengths
from sg_lava.limits import check_memory


def check_run_size(samples: int, steps: int, values_per_step: int, what: str = "the run") -> None:
    """Refuse a run whose arrays (inputs and every layer's outputs, float64, a few copies)
    would not fit in memory; ``values_per_step`` counts input and neuron values."""
    if samples < 1 or steps < 1:
        raise UserError(f"{what} needs at least 1 sample and 1 step")
    need = 4 * 8 * samples * steps * max(values_per_step, 1)
    check_memory(need, f"{what}: {samples} sample(s) x {steps} steps")


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


def _member_header(z: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and type an ``.npz`` member declares, read from its ``.npy`` header."""
    with z.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f".npy format version {version}")
    return tuple(shape), dtype


def read_npz(
    path: str | Path, names: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """Arrays ``names`` (and those of ``optional`` that it has) of the ``.npz`` archive
    ``path``, by name.

    Each member's declared size (its zip entry and its ``.npy`` header) is checked against
    the memory budget, with room for one converted copy, before any member is inflated.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            members = {n.removesuffix(".npy"): n for n in z.namelist()}
            missing = [n for n in names if n not in members]
            if missing:
                raise UserError(f"{path}: missing array {missing[0]!r} (has {sorted(members)})")
            names = (*names, *(n for n in optional if n in members))
            need = 0
            for name in names:
                shape, dtype = _member_header(z, members[name])
                if dtype.hasobject:
                    raise UserError(f"{path}: {name} holds Python objects, not numbers")
                size = max(int(np.prod(shape, dtype=object)) * dtype.itemsize, 0)
                need += 2 * max(size, z.getinfo(members[name]).file_size)
                check_memory(need, f"{path}: {name} of shape {shape} ({dtype}) and a copy")
        with np.load(path, allow_pickle=False) as f:
            return {name: f[name] for name in names}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        text = str(err).strip().splitlines()[0][:80] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: not a readable .npz file ({text})") from None
