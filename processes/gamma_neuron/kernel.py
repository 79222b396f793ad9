"""One time step of a layer of GammaNeurons in integers, compiled with numba.

This is ``docs/fixed_point.md`` §3 written per neuron, as Loihi's microcode would run it:
one pass over the neurons instead of some forty numpy calls per step, which keeps a
GammaNeuron's Lava step close to the cost of Lava's own SigmaDelta (bench/lava_step_cost.py).
All arithmetic is int64; the helpers below are the document's operations.

Neurons are flattened in Lava's order (channel last), so neuron ``n`` has channel
``n % C``; a per-synapse layer's input holds K drives per neuron at
``(n // C) * K * C + k * C + n % C``.

The scalar parameters travel in one int64 array, in the order of :data:`SCALARS` (written
here, so that numba's on-disk cache is invalidated whenever the order changes).
"""

from __future__ import annotations

import numpy as np
from numba import njit

SCALARS = (
    "drive_exp",
    "bucket_weight_exp",
    "theta0",
    "mf",
    "decay_out",
    "is_output",
    "per_synapse",
    "state_bits",
    "decay_bits",
    "mf_bits",
    "channels",
)
DRIVE_EXP, V_EXP, THETA0, MF, DECAY_OUT, IS_OUTPUT, PER_SYNAPSE = range(7)
STATE_BITS, DECAY_BITS, MF_BITS, CHANNELS = range(7, 11)


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


@njit(cache=True, inline="always")
def sat(x: np.int64, top: np.int64) -> np.int64:
    """Saturate to the signed state range ``[-top - 1, top]``."""
    return min(max(x, -top - 1), top)


@njit(cache=True, inline="always")
def drive(a, index, new_sample, e, top):  # pragma: no cover - compiled
    """``c = sat(shift(a, e))``, ``e`` the drive shift; 0 at a sample boundary (the stale
    synapse buffer)."""
    if new_sample:
        return np.int64(0)
    return sat(shift(np.int64(a[index]), e), top)


@njit(cache=True, inline="always")
def bucket_update(a, buckets, n, decay, copy_exp, new_sample, p, top):  # pragma: no cover
    """Advance neuron ``n``'s K buckets in place (§3 steps 1-3); per-synapse copy ``k``'s
    drive shifts by ``drive_exp - copy_exp[k]``."""
    K = buckets.shape[0]
    bits = p[DECAY_BITS]
    one = np.int64(1) << bits
    C = p[CHANNELS]
    base = (n // C) * K * C + n % C
    prev = buckets[0, n]
    for k in range(K):
        old = buckets[k, n]
        value = fraction(old, decay[k], bits)
        if p[PER_SYNAPSE]:  # transposed cascade: own drive, inflow from the next slot
            value += drive(a, base + k * C, new_sample, p[DRIVE_EXP] - copy_exp[k], top)
            if k + 1 < K:
                value += fraction(buckets[k + 1, n], one - decay[k + 1], bits)
        elif k == 0:
            value += drive(a, n, new_sample, p[DRIVE_EXP], top)
        else:
            value += fraction(prev, one - decay[k], bits)
        prev = old
        buckets[k, n] = sat(value, top)


@njit(cache=True, inline="always")
def readout(buckets, n, v, bias, p, top):  # pragma: no cover - compiled
    """``x = sat(shift(sum_k v_k B_k, -bucket_weight_exp) + bias)`` (per-synapse: q_1 + bias)."""
    if p[PER_SYNAPSE]:
        return sat(buckets[0, n] + bias[n], top)
    c = n % p[CHANNELS]
    acc = np.int64(0)
    for k in range(buckets.shape[0]):
        acc += v[k, c] * buckets[k, n]
    return sat(shift(acc, -p[V_EXP]) + bias[n], top)


@njit(cache=True, inline="always")
def encode(x, n, estimate, y_prev, p, top):  # pragma: no cover - compiled
    """Sigma-delta encoder with adaptive threshold (§3 step 6); returns the payload."""
    y = x if x > 0 else np.int64(0)
    theta = sat(p[THETA0] + ((p[MF] * y_prev[n]) >> p[MF_BITS]), top)
    pred = fraction(estimate[n], p[DECAY_OUT], p[DECAY_BITS])
    spike = theta if 2 * (y - pred) > theta else np.int64(0)
    estimate[n] = sat(pred + spike, top)
    y_prev[n] = y
    return spike


@njit(cache=True)
def gamma_step(
    a, buckets, estimate, y_prev, out, decay, copy_exp, v, bias, p, new_sample
):  # pragma: no cover
    """Advance every neuron one step; writes the payloads (or readouts) into ``out``.

    ``a`` the flat input, ``buckets`` (K, N), ``estimate``/``y_prev``/``out``/``bias`` (N,),
    ``decay`` and ``copy_exp`` (K,), ``v`` (K, C) bucket weights, ``p`` the :data:`SCALARS`.
    """
    top = (np.int64(1) << (p[STATE_BITS] - 1)) - 1
    for n in range(buckets.shape[1]):
        bucket_update(a, buckets, n, decay, copy_exp, new_sample, p, top)
        x = readout(buckets, n, v, bias, p, top)
        out[n] = x if p[IS_OUTPUT] else encode(x, n, estimate, y_prev, p, top)
