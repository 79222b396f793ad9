"""The export's number grids: power-of-two exponents and signed mantissas.

One rule, used twice: by :mod:`sg_lava.reference.quantize` to write the integers of ``net.h5``, and by
training (:func:`on_weight_grid`) to run the forward pass on the weights the export will
write, so that a model learns weights that survive the rounding (a delay-precise model at
4x lost 1.000 -> 0.667 to its 8-bit weight grid before, docs/resolution.md).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def power_of_two_exp(max_abs: float, limit: float) -> int:
    """Largest ``e`` with ``max_abs * 2**e <= limit`` (0 for an all-zero tensor)."""
    if max_abs <= 0 or not math.isfinite(max_abs):
        return 0
    return int(math.floor(math.log2(limit / max_abs)))


def weight_top(bits: int) -> int:
    """Largest weight mantissa: the range is symmetric, ``[-top, top]``."""
    return (1 << (bits - 1)) - 1


def weight_exp(w: Tensor | np.ndarray, bits: int) -> int:
    """The exponent that gives ``w``'s largest magnitude the top of ``bits``-bit mantissas
    (stored doubled: the limit is ``2 * top``)."""
    if isinstance(w, Tensor):
        w = w.detach().cpu().numpy()
    return power_of_two_exp(float(np.abs(w).max(initial=0.0)), 2 * weight_top(bits))


def copy_exps(w: Tensor, bits: int) -> list[int]:
    """Per copy along the leading axis, the exponent :func:`weight_exp` gives it alone
    (0 for an all-zero copy): each per-synapse copy ``W * V^k`` on its own grid."""
    peaks = w.detach().reshape(w.shape[0], -1).abs().amax(1).tolist()
    return [power_of_two_exp(p, 2 * weight_top(bits)) for p in peaks]


def weight_mantissas(w: Tensor, bits: int, exp: Tensor | int) -> Tensor:
    """``round(w * 2**(exp - 1))`` (half to even), unclipped: the mantissas on the grid of
    ``exp``, whose step is ``2**(1 - exp)`` (a stored weight ``2m`` is worth ``2m * 2**-exp``).
    ``exp`` broadcasts against ``w`` (one per weight copy)."""
    return torch.round(w * torch.exp2(torch.as_tensor(exp, dtype=w.dtype, device=w.device) - 1))


def quantize_weight(
    w: np.ndarray, bits: int, exp: int | np.ndarray | None = None
) -> tuple[np.ndarray, int | np.ndarray, float, float]:
    """Signed ``bits``-bit mantissas, stored doubled (even integers), as Lava's Dense wants.

    The range is symmetric, ``[-(2^(bits-1) - 1), 2^(bits-1) - 1]``: Lava clips an
    all-negative ("inhibitory") matrix to -255, so -256 would not survive. Returns
    (weight, weight_exp, share clipped, share of non-zeros zeroed); the value of a stored
    weight is ``weight * 2**-weight_exp``. ``exp`` may broadcast against ``w`` (one per copy).
    """
    hi = weight_top(bits)
    if exp is None:
        exp = weight_exp(w, bits) if w.size else 0
    m = weight_mantissas(torch.as_tensor(w, dtype=torch.float64), bits, exp).numpy()
    clipped = float(np.mean((m < -hi) | (m > hi))) if w.size else 0.0
    m = np.clip(m, -hi, hi).astype(np.int64)
    nz = w != 0
    zeroed = float(np.mean(m[nz] == 0)) if nz.any() else 0.0
    return 2 * m, exp, clipped, zeroed


def quantize_mantissa(v: np.ndarray, bits: int) -> tuple[np.ndarray, int, float]:
    """Signed ``bits``-bit mantissas with one exponent: value = m * 2**-exp."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    exp = power_of_two_exp(float(np.abs(v).max(initial=0.0)), hi)
    m = np.round(v * 2.0**exp)
    clipped = float(np.mean((m < lo) | (m > hi))) if v.size else 0.0
    return np.clip(m, lo, hi).astype(np.int64), exp, clipped


def on_weight_grid(w: Tensor, bits: int, copies: bool = False) -> Tensor:
    """``w`` with the values sg-export writes for it at ``bits`` bits, and the gradient of
    ``w`` itself (straight through, as lava-dl's quantised training does).

    ``copies``: the leading axis holds a per-synapse layer's K copies ``W * V^k``, each on
    its own grid (``copy_exp``); otherwise one grid for the whole tensor. The exponents
    follow the weights as they train. (Calibration may lower an exported exponent further
    to keep synaptic sums in range; training does not foresee that.)
    """
    with torch.no_grad():
        exps = torch.tensor(copy_exps(w if copies else w.reshape(1, -1), bits), dtype=w.dtype)
        exps = exps.view(-1, *[1] * (w.dim() - 1)) if copies else exps[0]
        top = weight_top(bits)
        q = weight_mantissas(w, bits, exps).clamp_(-top, top) * torch.exp2(1 - exps)
    return w + (q - w).detach()
