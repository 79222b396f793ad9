"""The bucket recursion of a window of steps in one compiled loop (the reference's CPU path).

:class:`sg_lava.reference.fixed.FixedNetwork` computes a layer's synaptic sums for a whole window of
steps in one product; what is left goes step by step: the K buckets, the readout and the
sigma-delta encoder of ``docs/fixed_point.md`` §3. In PyTorch that is about ten passes over
the layer's states per step, each a separate call. Here it is one numba loop per window,
samples in parallel (``prange``), each sample's states staying in cache for the window.

The arithmetic is the float64 path's (``sg_lava/reference/fixed.py``): integers held in float64,
exact because :meth:`FixedNetwork.float_layers` proved every intermediate below 2**53 and
every state below 2**31. A product with a decay fraction (``d * 2**-decay_bits``) truncated
toward zero is the document's ``sign(x*d) * (|x*d| >> bits)``; a
shift by ``-e`` is a floor of the product with ``2**-e``. The branch-free inner loops over
the neurons vectorise.

The loop does not count saturations: it records, per quantity, the largest magnitude
before saturation, from which :class:`sg_lava.reference.fixed.Saturation` reads the peaks and
whether any value left its range, in which case the run is redone on the counting path
(PyTorch's steps). So its results are used only where nothing saturated; it saturates all
the same, as the document says. States stay float64 here (PyTorch's steps keep buckets in
int32 to halve their passes' bytes; a sample's states here stay in cache, and each int32
load and store would cost a conversion).
Tests: ``tests/test_fixed_fast.py`` (equal to the plain int64 path) and the Lava equality
tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# The quantities whose largest magnitude the loop records, in the order of ``peaks``
QUANTITIES = ("bucket", "readout", "threshold", "estimate")


@njit(cache=True, inline="always")
def _fraction(x: float, d: float) -> float:  # pragma: no cover - compiled
    """``x * d`` truncated toward zero (``d`` a decay fraction)."""
    return np.trunc(x * d)


@njit(cache=True, inline="always")
def _saturate(x: float, top: float) -> float:  # pragma: no cover - compiled
    """``x`` limited to the signed state range ``[-top - 1, top]``."""
    lo = -top - 1.0
    y = x if x > lo else lo
    return y if y < top else top


@njit(cache=True, inline="always")
def _peak(pk, i: int, n: int, x: float) -> float:  # pragma: no cover - compiled
    """Raise quantity ``i``'s peak at neuron ``n`` to ``|x|``; returns ``x`` (a select, not
    a branch, so that the loops around it vectorise)."""
    m = abs(x)
    pk[i, n] = m if m > pk[i, n] else pk[i, n]
    return x


@njit(cache=True, inline="always")
def _bucket(q, k: int, n: int, x: float, pk, top: float) -> None:  # pragma: no cover
    """Store bucket ``k`` of neuron ``n``, saturated, after noting its peak."""
    q[k, n] = _saturate(_peak(pk, 0, n, x), top)


@njit(cache=True, parallel=True)
def gamma_window(
    c, buckets, estimate, y_prev, out, decay, leak, v, bias, scalars, per_synapse, is_output, peaks
):  # pragma: no cover - compiled
    """Advance every sample W steps.

    ``c`` (W, B, K or 1, N) int32 drives, already shifted and saturated; ``buckets``
    (B, K, N), ``estimate``, ``y_prev`` (B, N) and ``out`` (W, B, N) float64;
    ``decay`` and ``leak`` (K,) the fractions ``d_k * 2**-decay_bits`` and
    ``1 - d_k * 2**-decay_bits``; ``v`` (K, N) bucket weights; ``bias`` (N,);
    ``scalars`` (top, bucket-weight scale 2**-exp, theta0, m_f * 2**-mf_bits, decay_out
    fraction); ``peaks`` (B, 4, N) raised to the largest magnitudes of :data:`QUANTITIES`.
    Neurons ``N`` are the layer's, flattened in PyTorch's order.
    """
    W, B, K, N = c.shape[0], c.shape[1], buckets.shape[1], buckets.shape[2]
    top, v_scale, theta0, mf_scale, decay_out = scalars
    for b in prange(B):
        q = buckets[b]
        est, yp, pk = estimate[b], y_prev[b], peaks[b]
        x = np.empty(N)
        for t in range(W):
            ct = c[t, b]
            if per_synapse:  # transposed cascade: own drive, inflow from the next slot
                for k in range(K - 1):
                    dk, lk = decay[k], leak[k + 1]
                    for n in range(N):
                        val = _fraction(q[k, n], dk) + _fraction(q[k + 1, n], lk) + ct[k, n]
                        _bucket(q, k, n, val, pk, top)
                for n in range(N):
                    val = _fraction(q[K - 1, n], decay[K - 1]) + ct[K - 1, n]
                    _bucket(q, K - 1, n, val, pk, top)
                for n in range(N):
                    x[n] = q[0, n] + bias[n]
            else:  # cascade, from the last bucket down, so each reads its old inflow
                for k in range(K - 1, 0, -1):
                    dk, lk = decay[k], leak[k]
                    for n in range(N):
                        val = _fraction(q[k, n], dk) + _fraction(q[k - 1, n], lk)
                        _bucket(q, k, n, val, pk, top)
                for n in range(N):
                    val = _fraction(q[0, n], decay[0]) + ct[0, n]
                    _bucket(q, 0, n, val, pk, top)
                x[:] = 0.0
                for k in range(K):
                    for n in range(N):
                        x[n] += v[k, n] * q[k, n]
                for n in range(N):
                    x[n] = np.floor(x[n] * v_scale) + bias[n]
            o = out[t, b]
            for n in range(N):
                o[n] = _saturate(_peak(pk, 1, n, x[n]), top)
            if is_output:
                continue
            for n in range(N):  # sigma-delta encoder with adaptive threshold (§3 step 6)
                y = max(o[n], 0.0)
                th = _saturate(_peak(pk, 2, n, theta0 + np.floor(yp[n] * mf_scale)), top)
                pred = _fraction(est[n], decay_out)
                s = th if 2.0 * (y - pred) > th else 0.0
                est[n] = _saturate(_peak(pk, 3, n, pred + s), top)
                yp[n] = y
                o[n] = s


@njit(cache=True, parallel=True)
def sparse_product(s, w, out):  # pragma: no cover - compiled
    """``out = s @ w`` adding only the rows of ``w`` whose input is non-zero: spikes are
    sparse, so a dense layer's sums cost a few rows each instead of all of them.

    ``s`` (M, I), ``w`` (I, O) and ``out`` (M, O) integers, all float64 or all float32;
    exact in any order while the partial sums stay below 2**53, or 2**24 (the caller's
    proof: ``Synapse.bound``, ``Synapse.limbs``).
    """
    for r in prange(s.shape[0]):
        o = out[r]
        o[:] = 0.0
        for j in range(s.shape[1]):
            x = s[r, j]
            if x != 0.0:
                for n in range(w.shape[1]):
                    o[n] += x * w[j, n]


def layer_arrays(layer, spec) -> tuple:
    """:func:`gamma_window`'s parameters of one ``QuantLayer`` (prepared once per network):
    ``(decay, leak, v, bias, scalars, per_synapse, is_output)``, per-channel values
    repeated per neuron."""
    n, K = layer.neuron, layer.K
    N = int(np.prod(layer.shape))
    C = len(n.bias)
    fraction = 2.0**-spec.decay_bits
    decay = np.asarray(n.decay, dtype=np.float64) * fraction  # exact: a power-of-two scale
    v = np.zeros((K, N))
    if n.bucket_weight is not None:
        bw = np.asarray(n.bucket_weight, dtype=np.float64).reshape(K, C, 1)
        v = np.ascontiguousarray(np.broadcast_to(bw, (K, C, N // C)).reshape(K, N))
    bias = np.repeat(np.asarray(n.bias, dtype=np.float64), N // C)  # channels first
    scalars = np.array(
        [
            (1 << (spec.state_bits - 1)) - 1,
            2.0**-n.bucket_weight_exp,
            n.theta0,
            n.mf * 2.0**-spec.mf_bits,
            n.decay_out * fraction,
        ],
        dtype=np.float64,
    )
    return decay, 1.0 - decay, v, bias, scalars, layer.per_synapse, layer.is_output
