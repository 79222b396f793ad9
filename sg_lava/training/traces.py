"""Forward-mode eligibility traces of the gamma cascade: pure functions over tensors.

The cascade ``B^1(t) = a_1 B^1(t-1) + c(t)``, ``B^k(t) = a_k B^k(t-1) + (1 - a_k)
B^{k-1}(t-1)`` is linear in its state and its drive, so derivatives of the buckets follow
linear recursions of their own, carried forward in time next to the buckets. Memory
therefore stays flat in the sequence length, which is what online learning needs.

* :func:`alpha_trace_step`: ``E_j = dB / d alpha_j`` of a layer's own buckets, state
  (batch, K_j, K, *shape) — at most K x K per presynaptic bucket (``E_j^k = 0`` for
  ``k < j``, since bucket k depends on ``alpha_1..alpha_k`` only).
* cross-layer traces: the buckets of layer ``l + 1`` are the cascade (with layer
  ``l + 1``'s alpha) of layer ``l``'s output, whose backward pass is the identity to
  ``y = ReLU(x)``; so ``d B_{l+1} / d theta_l`` is the same cascade run on
  ``d y_l / d theta_l`` (:func:`dense_drives`), updated with
  :func:`sg_lava.model.dynamics.bucket_step`.
* :func:`inject`: a zero-valued term whose gradient with respect to a parameter is a
  given trace, so autograd carries the trace to the loss without changing the forward
  pass.
"""

from __future__ import annotations

import torch
from torch import Tensor


def alpha_trace_step(trace: Tensor, buckets_prev: Tensor, alpha: Tensor) -> Tensor:
    """One step of ``E_j^k = dB^k / d alpha_j`` for every j.

    ``E_j^k(t) = a_k E_j^k(t-1) + (1 - a_k) E_j^{k-1}(t-1) + [j = k] (B^k(t-1) - B^{k-1}(t-1))``
    (with ``B^0 = 0``): the cascade without drive, plus the direct derivative of the
    step with respect to ``a_k``.

    ``trace``: (batch, K_j, K, *shape); ``buckets_prev``: B(t-1) (batch, K, *shape);
    ``alpha``: (K,). Returns E(t), same shape as ``trace``.
    """
    K = alpha.shape[0]
    a = alpha.view(1, 1, K, *([1] * (trace.dim() - 3)))
    decayed = a * trace
    rest = decayed[:, :, 1:] + (1 - a[:, :, 1:]) * trace[:, :, :-1]
    new = torch.cat([decayed[:, :, :1], rest], 2)
    direct = buckets_prev.clone()
    direct[:, 1:] -= buckets_prev[:, :-1]
    idx = torch.arange(K)
    new[:, idx, idx] += direct
    return new


class _Inject(torch.autograd.Function):
    """Zeros forward; backward contracts the incoming gradient with each trace."""

    @staticmethod
    def forward(ctx, shape, equations, *tensors):  # tensors: traces, then params
        n = len(equations)
        ctx.equations = equations
        ctx.save_for_backward(*tensors[:n])
        return tensors[0].new_zeros(shape)

    @staticmethod
    def backward(ctx, grad):
        grads = []
        for eq, trace in zip(ctx.equations, ctx.saved_tensors):
            ins, out = eq.split("->")
            t_sub, p_sub = ins.split(",")
            grads.append(torch.einsum(f"{t_sub},{out}->{p_sub}", trace, grad))
        return (None, None, *([None] * len(grads)), *grads)


def inject(pairs: list[tuple[Tensor, Tensor, str]], shape: tuple[int, ...]) -> Tensor:
    """A zero tensor of ``shape`` whose gradient with respect to each param is its trace.

    For each ``(param, trace, equation)``, the term behaves as
    ``einsum(equation, trace, param - param.detach())``: zero in value, and its derivative
    with respect to ``param`` contracts the incoming gradient with ``trace``. This is how
    forward-mode traces enter the autograd graph of one step; the forward pass costs
    nothing (no contraction is computed until backward).
    """
    equations = tuple(eq for _, _, eq in pairs)
    return _Inject.apply(
        tuple(shape), equations, *(t for _, t, _ in pairs), *(p for p, _, _ in pairs)
    )


def alpha_term(alpha: Tensor, trace: Tensor) -> Tensor:
    """Zero-valued term with ``d / d alpha_j = E_j`` (to add to the buckets)."""
    shape = (trace.shape[0], *trace.shape[2:])
    return inject([(alpha, trace, "bjk...,j->bk...")], shape)


def dense_drives(
    x: Tensor, buckets: Tensor, alpha_trace: Tensor, weight: Tensor, bucket_weight: Tensor
) -> Tensor:
    """``d y_j / d theta`` of a dense layer with per-neuron bucket weights, one step.

    ``y_j = ReLU(sum_k v_kj (W B^k)_j + b_j)``, ``r_j = [x_j > 0]``; for neuron j, the
    derivatives with respect to its row of :func:`stacked_params`, concatenated on the
    last axis (batch, H, M + 1 + 2K):

    * ``W_j.`` (M): ``r_j sum_k v_kj B^k``
    * ``b_j`` (1): ``r_j``
    * ``v_.j`` (K): ``r_j (W B^k)_j``
    * ``alpha`` (K): ``r_j sum_k v_kj (W E_m^k)_j``

    ``x``: readout (batch, H); ``buckets``: presynaptic (batch, K, M); ``alpha_trace``:
    (batch, K_m, K, M). Everything is a value (no graph).
    """
    r = (x > 0).to(x.dtype).unsqueeze(-1)
    v = bucket_weight
    d_w = v.t() @ buckets  # (batch, H, M)
    d_v = (buckets @ weight.t()).transpose(1, 2)  # (batch, H, K)
    d_a = ((alpha_trace @ weight.t()) * v).sum(2).transpose(1, 2)  # (batch, H, K_m)
    return r * torch.cat([d_w, torch.ones_like(r), d_v, d_a], -1)


def stacked_params(weight: Tensor, bias: Tensor, bucket_weight: Tensor, alpha: Tensor) -> Tensor:
    """Per neuron j the parameters :func:`dense_drives` differentiates: (H, M + 1 + 2K).

    Built from the parameters with autograd, so a gradient on a row reaches ``W_j.``,
    ``b_j``, ``v_.j`` and (summed over j) ``alpha``.
    """
    H = weight.shape[0]
    return torch.cat(
        [weight, bias.unsqueeze(1), bucket_weight.t(), alpha.unsqueeze(0).expand(H, -1)], 1
    )


def cross_term(params: Tensor, trace: Tensor) -> Tensor:
    """Zero-valued term (batch, K, H) carrying ``d B_{l+1} / d theta_l`` to ``theta_l``.

    ``params``: :func:`stacked_params` (H, N); ``trace``: (batch, K, H, N).
    """
    return inject([(params, trace, "bkjn,jn->bkj")], trace.shape[:3])


def cross_trace_elements(batch: int, K_up: int, H: int, M: int, K: int) -> int:
    """Number of values the cross traces of one dense boundary hold (memory estimate)."""
    return batch * K_up * H * (M + 1 + 2 * K)


def gain_term(gain: Tensor, s: Tensor) -> Tensor:
    """Zero-valued bucket term with ``dB^k / ds = gain_k`` (not the one-step ``[k = 1]``).

    Where no exact trace reaches deeper layers, this assumes their contribution to ``s``
    changed little over the buckets' memory: the derivative of the cascade's response
    to a constant input, ``gain_k(t) = sum_{tau <= t} h_k(t - tau)``.
    """
    g = gain.view(1, -1, *([1] * (s.dim() - 1)))
    return g * (s - s.detach()).unsqueeze(1)
