"""The input encoder: what the host sends to the first synapse at each step (numpy only).

``input_encoding`` (network config and ``net.h5``) turns the input sequence ``x`` (samples,
T, *input_shape) into the payloads the first synapse receives:

* ``direct`` — ``x`` itself, every step;
* ``delta`` — only changes, as lava-dl's SDNN inputs send them (Lava's ``Delta`` process,
  without its reset-free state): ``d = x(t) - x(t-1) + r``; send ``d`` when ``|d| >= theta``,
  else 0; ``r = d - sent``. What was sent sums to ``x(t)`` within ``theta``; ``theta = 0``
  sends every change exactly;
* ``sigma-delta`` — the neuron's own code, signed: the prediction ``p = decay(e(t-1))`` of
  the first layer's first bucket, ``theta(t) = theta0 + m_f |x(t-1)|``; send
  ``sign(x - p) theta`` when ``2 |x - p| > theta``, and ``e = p + sent``. A constant input
  costs a few spikes, not one per step.

One implementation serves the float model (reals, ``decay(e) = alpha e``) and the integer
model (``integer=True``: ``decay`` is the truncating fixed-point product of
``docs/fixed_point.md`` and ``m_f`` a fraction of ``2**mf_bits``), which the reference and
the Lava runner both apply on the host before the first synapse. Every sample starts from
zero state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ENCODINGS = ("direct", "delta", "sigma-delta")


def check_encoding(encoding: Any, theta: float) -> str:
    """``encoding`` if valid with threshold ``theta``, else ValueError saying why."""
    if encoding not in ENCODINGS:
        raise ValueError(f"input_encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if encoding == "sigma-delta" and not theta > 0:
        raise ValueError("input_encoding 'sigma-delta' needs input_theta > 0")
    return encoding


def encode(
    x: np.ndarray,
    encoding: str,
    theta: float = 0.0,
    mf: float = 0.0,
    decay: float = 0.0,
    integer: bool = False,
    decay_bits: int = 12,
    mf_bits: int = 12,
) -> np.ndarray:
    """The payloads (same shape as ``x``) that ``encoding`` sends for the inputs ``x``.

    Reals: ``decay`` is the first layer's first-bucket alpha and ``mf`` a real factor.
    Integers (``integer``): ``x`` are the quantised inputs, ``theta`` an integer at the input
    scale, ``decay`` the integer decay ``d`` (a fraction of ``2**decay_bits``) and ``mf`` a
    fraction of ``2**mf_bits``; every product truncates as the neuron's do.
    """
    if encoding == "direct":
        return x
    x = np.asarray(x, dtype=np.int64 if integer else np.float64)
    out = np.zeros_like(x)
    prev = np.zeros_like(x[:, 0])
    state = np.zeros_like(prev)  # delta: the residue r; sigma-delta: the estimate e
    for t in range(x.shape[1]):
        now = x[:, t]
        if encoding == "delta":
            d = now - prev + state
            sent = np.where(np.abs(d) >= theta, d, 0)
            state = d - sent
        else:
            if integer:
                p = np.sign(state) * ((np.abs(state) * int(decay)) >> decay_bits)
                th = int(theta) + ((int(mf) * np.abs(prev)) >> mf_bits)
            else:
                p = decay * state
                th = theta + mf * np.abs(prev)
            z = now - p
            sent = np.where(2 * np.abs(z) > th, np.sign(z) * th, 0)
            state = p + sent
        out[:, t] = sent
        prev = now
    return out
