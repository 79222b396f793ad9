"""SpikingGamma dynamics in floating point: pure functions over explicit state.

Equations of ``docs/model.md`` (MODEL.md §1). Bucket tensors put the K buckets on
dimension 1: ``(batch, K, *shape)``. Nothing here holds parameters or state; the
modules in :mod:`sg_lava.model.layers` own the parameters and call these functions.

Two equivalent forms of the bucket memory exist because the recursion is linear and the
``alpha`` are shared by all senders of a layer:

* **presynaptic** (used for training): the cascade runs on the incoming spikes and the
  synaptic weights are applied to every bucket (``x = sum_k v_k * (W @ B^k)``), so the
  weight gradient at a step is exact and local in time;
* **postsynaptic** (used by the fixed-point reference and by Lava): the cascade runs on
  the weighted sum, ``c = W @ s``, with K states per neuron. Per-synapse bucket weights
  use the *transposed* cascade (:func:`transposed_bucket_step`) on K drives
  ``c^k = (W * V^k) @ s``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def init_alpha(K: int, F: float = 0.5, l_start: float = 0.1, l_end: float = 0.9) -> Tensor:
    """The paper's initial decays: ``alpha_k = linspace(l_start, l_end, K) ** F``."""
    if K == 1:
        return torch.tensor([l_end**F])
    return torch.linspace(l_start, l_end, K) ** F


def bucket_step(buckets: Tensor, drive: Tensor, alpha: Tensor) -> Tensor:
    """One step of the gamma cascade.

    ``B^1(t) = a_1 B^1(t-1) + drive(t)``;
    ``B^k(t) = a_k B^k(t-1) + (1 - a_k) B^{k-1}(t-1)`` for k = 2..K.

    ``buckets``: (batch, K, *shape); ``drive``: (batch, *shape); ``alpha``: (K,).
    """
    a = alpha.view(1, -1, *([1] * (buckets.dim() - 2)))
    decayed = a * buckets
    first = decayed[:, :1] + drive.unsqueeze(1)
    rest = decayed[:, 1:] + (1 - a[:, 1:]) * buckets[:, :-1]
    return torch.cat([first, rest], dim=1)


def kernel_moments(alpha: Tensor) -> tuple[Tensor, Tensor]:
    """Mean delay and standard deviation, in steps, of every bucket's impulse response.

    Bucket 1 answers an input at step 0 with ``alpha_1**t``: as a distribution of delays,
    mean ``alpha_1 / (1 - alpha_1)`` and variance ``alpha_1 / (1 - alpha_1)**2``. Every later
    stage adds a one-step shift and a geometric wait, mean ``1 / (1 - alpha_k)``, variance
    ``alpha_k / (1 - alpha_k)**2``; means and variances add along the cascade. So a stage
    with ``alpha`` near 0 is an exact one-step delay, and a stage can never be shorter than
    one step: what limits how sharply K buckets can time a delay at fine steps
    (``bench/kernel_precision.py``). ``alpha``: (K,); returns two (K,) tensors.
    """
    a = alpha.double()
    var = a / (1 - a) ** 2
    mean = torch.cat([a[:1] / (1 - a[:1]), 1 / (1 - a[1:])])
    return mean.cumsum(0), var.cumsum(0).sqrt()


def transposed_bucket_step(states: Tensor, drives: Tensor, alpha: Tensor) -> Tensor:
    """One step of the transposed cascade (per-synapse bucket weights, K states).

    ``q_k(t) = a_k q_k(t-1) + (1 - a_{k+1}) q_{k+1}(t-1) + c^k(t)``, ``q_K`` has no
    successor term. Its output ``q_1`` equals ``sum_k (W*V^k) @ B^k`` of the presynaptic
    form (same transfer function, transposed state space).

    ``states``, ``drives``: (batch, K, *shape); ``alpha``: (K,).
    """
    a = alpha.view(1, -1, *([1] * (states.dim() - 2)))
    decayed = a * states
    carry = (1 - a[:, 1:]) * states[:, 1:]
    head = decayed[:, :-1] + carry
    return torch.cat([head, decayed[:, -1:]], dim=1) + drives


def readout(buckets: Tensor, bucket_weight: Tensor, bias: Tensor) -> Tensor:
    """``x_j = sum_k v_j^k B_j^k + b_j`` for per-neuron bucket weights.

    ``buckets``: (batch, K, *shape); ``bucket_weight``: (K, *shape or broadcastable);
    ``bias`` broadcastable to ``shape``.
    """
    return (buckets * bucket_weight.unsqueeze(0)).sum(1) + bias


def adaptive_threshold(y_prev: Tensor, theta0: float, m_f: float) -> Tensor:
    """``theta(t) = theta0 + m_f * y(t-1)``."""
    return theta0 + m_f * y_prev


def encoder_step(
    y: Tensor, y_prev: Tensor, estimate: Tensor, theta0: float, m_f: float, alpha_out: Tensor
) -> tuple[Tensor, Tensor]:
    """Sigma-delta encoder with adaptive threshold; returns ``(s, estimate)``.

    ``p = alpha_out * e(t-1)`` predicts the receiving layer's first bucket without a new
    spike; a spike fires when ``y - p > theta / 2`` and carries ``theta`` as its payload,
    so ``e = p + s`` tracks ``y`` to within about ``theta / 2``. Positive spikes only.
    """
    theta = adaptive_threshold(y_prev, theta0, m_f)
    p = alpha_out * estimate
    fire = (y - p) > theta / 2
    s = torch.where(fire, theta, torch.zeros_like(theta))
    return s, p + s


def spike_count(
    y: Tensor,
    s: Tensor,
    y_prev: Tensor,
    estimate: Tensor,
    theta0: float,
    m_f: float,
    alpha_out: Tensor,
) -> Tensor:
    """The spikes of one encoder step as a differentiable count, per neuron.

    Its value is exactly ``s != 0`` (1 where a spike fired); its gradient is that of the
    hinge ``relu((y - p) / theta - 1/2)``, the mismatch in payloads beyond the firing
    threshold: ``1 / theta`` with respect to ``y`` wherever a spike fires or would, 0 below
    it. So a loss on it pushes ``y`` down exactly where spikes are paid for, and its value
    is the spike rate a user reads (``--spike-cost``, ``docs/sparsity.md``).
    """
    theta = adaptive_threshold(y_prev, theta0, m_f)
    hinge = torch.relu((y - alpha_out * estimate) / theta - 0.5)
    return (s != 0).to(y.dtype) + (hinge - hinge.detach())


def straight_through(s: Tensor, y: Tensor) -> Tensor:
    """Spikes ``s`` in the forward pass, identity to ``y`` in the backward pass.

    The encoder's estimate tracks ``y``; treating the code as the identity is the
    paper's point: the error bypasses the spikes, so no surrogate gradient is needed.
    """
    return s.detach() + (y - y.detach())
