"""The readout window: at which steps a network's output is read as its class (numpy only).

A setting of the network config and of ``net.h5`` (``readout``), so that training, ``sg-lava
evaluate``, ``verify`` and ``sg-lava run`` read a model out the same way:

* ``"task"`` — the data's own window: a built-in task's steps after its decisive event;
* ``"all"`` — every step of the sample;
* ``"second-half"`` — the steps ``t >= T // 2`` (the default of ``--data`` runs before 0.2);
* ``"last"`` — the last step;
* a number ``f`` in (0, 1] — the last ``max(1, round(f * T))`` steps.

``T`` is each sample's own length where the data gives ``lengths`` (padded series), else the
padded length. The class of a sample is the argmax of its readout summed over the window.
"""

from __future__ import annotations

from typing import Any

import numpy as np

READOUTS = ("task", "all", "second-half", "last")


def check_readout(value: Any) -> str | float:
    """``value`` as a readout setting, or ValueError saying what is allowed."""
    if isinstance(value, str) and value in READOUTS:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1:
        return float(value)
    raise ValueError(
        f"readout must be one of {', '.join(READOUTS)} or a fraction in (0, 1], got {value!r}"
    )


def readout_mask(
    readout: str | float, n: int, T: int, lengths: np.ndarray | None = None
) -> np.ndarray:
    """The window (n, T) bool of ``n`` samples of ``T`` steps (``lengths``: each one's own)."""
    readout = check_readout(readout)
    if readout == "task":
        raise ValueError("the 'task' readout is the data's own window: it has no rule to apply")
    L = np.full(n, T, dtype=np.int64) if lengths is None else check_lengths(lengths, n, T)
    L = L[:, None]
    t = np.arange(T)[None, :]
    if readout == "all":
        start = np.zeros_like(L)
    elif readout == "second-half":
        start = L // 2
    elif readout == "last":
        start = L - 1
    else:
        start = L - np.maximum(1, np.round(readout * L).astype(np.int64))
    return (t >= start) & (t < L)


def check_lengths(lengths: np.ndarray, n: int, T: int) -> np.ndarray:
    """``lengths`` as (n,) int64 in [1, T], or ValueError saying what is wrong."""
    lengths = np.asarray(lengths)
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be ({n},) integers, has {lengths.dtype} {lengths.shape}")
    if n and (lengths.min() < 1 or lengths.max() > T):
        raise ValueError(
            f"lengths must lie in [1, {T}] (the padded length), found "
            f"{lengths.min()}..{lengths.max()}"
        )
    return lengths.astype(np.int64)


def predict(output: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Class per sample: the argmax of the readout ``output`` (n, T, classes) summed over
    the window ``mask`` (n, T)."""
    out = np.asarray(output, dtype=np.float64)
    inside = np.broadcast_to(np.asarray(mask, dtype=bool)[..., None], out.shape)
    return np.where(inside, out, 0.0).sum(1).argmax(-1)  # not x * 0: inf outside stays out
