"""One time step of a layer of GammaNeurons in integers, compiled with numba.

This is ``docs/fixed_point.md`` §3 written per neuron, as Loihi's microcode would run it:
one pass over the neurons instead of some forty numpy calls per step, which keeps a
GammaNeuron's Lava step close to the cost of Lava's own SigmaDelta (bench/lava_step_cost.py).
All arithmetic is int64; the functions below are the document's operations.

Neurons are flattened in Lava's order (channel last), so neuron ``n`` has channel
``n % C``; a per-synapse layer's input holds K drives per neuron at
``(n // C) * K * C + k * C + n % C``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def fraction(x: np.int64, d: np.int64, bits: np.int64) -> np.int64:
    """``sign(x*d) * (|x*d| >> bits)``: a fraction, rounded toward zero."""
    p = x * d
    if p < 0:
        return -((-p) >> bits)
    return p >> bits


@njit(cache=True, inline="always")
def shift(x: np.int64, e: np.int64) -> np.int64:
    """``x * 2**e``; a floor for negative ``e``."""
    if e >= 0:
        return x << e
    return x >> (-e)


@njit(cache=True)
def gamma_step(
    a,
    buckets,
    estimate,
    y_prev,
    out,
    sat,
    decay,
    v,
    bias,
    channels,
    per_synapse,
    is_output,
    new_sample,
    drive_exp,
    v_exp,
    theta0,
    mf,
    mf_bits,
    decay_out,
    bits,
    lo,
    hi,
):  # pragma: no cover - compiled
    """Advance every neuron one step; writes the payloads (or readouts) into ``out``.

    ``buckets`` (K, N), ``estimate``/``y_prev``/``out`` (N,), ``a`` the flat input, ``decay``
    (K,), ``v`` (K, C) bucket weights, ``bias`` (N,); ``sat`` (1,) counts saturations.
    """
    K, N = buckets.shape
    one = np.int64(1) << bits
    count = 0
    for n in range(N):
        c = n % channels
        # buckets: decay from the previous values, then the inflow
        prev = buckets[0, n]
        for k in range(K):
            old = buckets[k, n]
            value = fraction(old, decay[k], bits)
            if per_synapse:
                drive = (
                    0
                    if new_sample
                    else np.int64(a[(n // channels) * K * channels + k * channels + c])
                )
                drive = shift(drive, drive_exp)
                if drive > hi or drive < lo:
                    drive = min(max(drive, lo), hi)
                    count += 1
                value += drive
                if k + 1 < K:
                    value += fraction(buckets[k + 1, n], one - decay[k + 1], bits)
            elif k == 0:
                drive = 0 if new_sample else np.int64(a[n])
                drive = shift(drive, drive_exp)
                if drive > hi or drive < lo:
                    drive = min(max(drive, lo), hi)
                    count += 1
                value += drive
            else:
                value += fraction(prev, one - decay[k], bits)
            prev = old
            if value > hi or value < lo:
                value = min(max(value, lo), hi)
                count += 1
            buckets[k, n] = value
        # readout
        if per_synapse:
            x = buckets[0, n] + bias[n]
        else:
            acc = np.int64(0)
            for k in range(K):
                acc += v[k, c] * buckets[k, n]
            x = shift(acc, -v_exp) + bias[n]
        if x > hi or x < lo:
            x = min(max(x, lo), hi)
            count += 1
        if is_output:
            out[n] = x
            continue
        # sigma-delta encoder with adaptive threshold
        y = x if x > 0 else 0
        theta = theta0 + ((mf * y_prev[n]) >> mf_bits)
        if theta > hi or theta < lo:
            theta = min(max(theta, lo), hi)
            count += 1
        p = fraction(estimate[n], decay_out, bits)
        spike = theta if 2 * (y - p) > theta else 0
        e = p + spike
        if e > hi or e < lo:
            e = min(max(e, lo), hi)
            count += 1
        estimate[n] = e
        y_prev[n] = y
        out[n] = spike
    sat[0] += count
