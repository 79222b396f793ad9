"""Online training with forward-mode traces: exact credit within a layer and across one.

``credit`` chooses what the online gradient sees (all memory flat in T):

* ``step``: the current step only (history detached), as the paper describes; the
  decays alpha get a one-step gradient.
* ``alpha``: plus the exact ``dB / d alpha`` of every layer's own buckets
  (:func:`sg_lava.training.traces.alpha_trace_step`); a single-layer network then gets
  the BPTT gradient of the same per-step loss exactly.
* ``traces``: plus, at every boundary between two dense layers, the exact derivative of
  the upper layer's buckets with respect to every parameter of the lower layer (the
  upper cascade run on ``d y / d theta``): a two-layer network gets the BPTT gradient
  exactly; deeper layers get their credit through the boundary above them one step
  deep. A boundary whose traces would exceed ``budget_mb`` falls back to ``alpha``.

:class:`TracedCredit` hooks into the one step loop, :meth:`GammaNetwork.step`: the forward
values are the same, only the gradient paths differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sg_lava.model import dynamics
from sg_lava.model.layers import GammaDense, GammaLayer
from sg_lava.model.network import GammaNetwork, LayerState
from sg_lava.training import traces
from sg_lava.training.config import CREDITS, DEFAULT_TRACE_BUDGET_MB


@dataclass
class LayerTraces:
    """Forward-mode traces of one gamma layer's presynaptic buckets."""

    alpha: Tensor  # dB/d alpha of this layer: (batch, K, K, *in_shape)
    cross: Tensor | None = None  # dB/d theta of the layer below: (batch, K, H, N)
    pending: Tensor | None = None  # Lava timing: the drive of the previous step (batch, H, N)
    gain: Tensor | None = None  # response of the cascade to a constant 1 so far: (K,)


def traced_boundaries(
    net: GammaNetwork, batch: int, credit: str, budget_mb: float = DEFAULT_TRACE_BUDGET_MB
) -> list[bool]:
    """Per gamma layer: does it carry traces with respect to the layer below?

    Only between two adjacent dense layers whose lower one has per-neuron bucket
    weights (the case :func:`sg_lava.training.traces.dense_drives` covers), within the budget.
    """
    if credit not in CREDITS:
        raise ValueError(f"credit must be one of {CREDITS}, got {credit!r}")
    plan, prev = [], None
    for module in net.layers:
        if isinstance(module, GammaLayer):
            plan.append(
                credit == "traces"
                and isinstance(prev, GammaDense)
                and not prev.per_synapse
                and boundary_mb(prev, module, batch) <= budget_mb
            )
        prev = module
    return plan


def boundary_mb(lower: GammaDense, upper: GammaLayer, batch: int) -> float:
    """Memory (MB, float32) of the cross traces from ``lower`` into ``upper``."""
    n = traces.cross_trace_elements(batch, upper.K, lower.out_features, lower.in_features, lower.K)
    return 4 * n / 2**20


def initial_traces(
    net: GammaNetwork, batch: int, plan: list[bool], dtype: torch.dtype, device=None
) -> list[LayerTraces]:
    """All-zero traces for ``batch`` samples, on ``device``."""
    out = []
    gammas = net.gamma_layers
    for g, (module, (in_shape, _)) in enumerate(
        (m, s) for m, s in zip(net.layers, net.shapes) if isinstance(m, GammaLayer)
    ):
        alpha = torch.zeros(batch, module.K, module.K, *in_shape, dtype=dtype, device=device)
        cross = pending = None
        if plan[g]:
            low = gammas[g - 1]
            n = low.in_features + 1 + 2 * low.K
            cross = torch.zeros(batch, module.K, low.out_features, n, dtype=dtype, device=device)
            pending = torch.zeros(batch, low.out_features, n, dtype=dtype, device=device)
        gain = torch.zeros(module.K, dtype=dtype, device=device)
        out.append(LayerTraces(alpha, cross, pending, gain))
    return out


def lower_params(layer: GammaDense) -> Tensor:
    """The parameters a cross trace is taken with respect to (alpha, not its logit)."""
    return traces.stacked_params(layer.weight, layer.bias, layer.bucket_weight, layer.alpha)


def detached_readout(layer: GammaDense, buckets: Tensor) -> Tensor:
    """``x`` of a dense layer with its parameters as constants (gradient to buckets only)."""
    z = buckets @ layer.weight.detach().t()
    return dynamics.readout(z, layer.bucket_weight.detach(), layer.bias.detach())


class TracedCredit:
    """The gradient paths of ``alpha`` or ``traces`` credit, step by step.

    :meth:`GammaNetwork.step` asks :meth:`buckets` for every gamma layer's buckets and
    :meth:`signal` for what a hidden layer passes up; between the two the traces of the
    step are built, and they replace the old ones when the step is done. ``like`` gives
    the traces' dtype and device.
    """

    def __init__(
        self,
        net: GammaNetwork,
        batch: int,
        credit: str,
        budget_mb: float = DEFAULT_TRACE_BUDGET_MB,
        like: Tensor | None = None,
    ) -> None:
        self.net = net
        self.plan = traced_boundaries(net, batch, credit, budget_mb)
        dtype = like.dtype if like is not None else torch.float32
        device = like.device if like is not None else None
        self.traces = initial_traces(net, batch, self.plan, dtype, device)
        self.new: list[LayerTraces] = []
        self.drives: Tensor | None = None  # d y / d theta of the layer below, this step
        self._last: tuple[Tensor, Tensor, Tensor] | None = None  # value, deep, alpha trace

    def buckets(self, g: int, module: GammaLayer, st: LayerState, s: Tensor, timing: str):
        """Layer ``g``'s new buckets: (the state to keep, the buckets the readout sees)."""
        if g == 0:
            self.new, self.drives = [], None
        tr = self.traces[g]
        drives, pending_drives = self.drives, self.drives
        if timing == "lava":
            drives = tr.pending
        alpha = module.alpha
        a = alpha.detach()
        gain = None
        if self.plan[g]:
            one = torch.ones(1, dtype=a.dtype, device=a.device)
            gain = dynamics.bucket_step(tr.gain.view(1, -1), one, a)[0]
            value = dynamics.bucket_step(st.buckets, s.detach(), a) + traces.gain_term(gain, s)
        else:
            value = dynamics.bucket_step(st.buckets, s, a)  # gradient to s: one step
        e = traces.alpha_trace_step(tr.alpha, st.buckets, a)
        deep, cross = value, None
        if self.plan[g]:
            cross = dynamics.bucket_step(tr.cross, drives, a)
            deep = value + traces.cross_term(lower_params(self.net.gamma_layers[g - 1]), cross)
        self.new.append(LayerTraces(e, cross, pending_drives if self.plan[g] else None, gain))
        if g == len(self.traces) - 1:
            self.traces = self.new
        self._last = (value, deep, e)
        return value.detach(), deep + traces.alpha_term(alpha, e)

    def signal(self, g: int, module: GammaLayer, x: Tensor, y: Tensor) -> Tensor:
        """What hidden layer ``g`` passes up in the backward pass (its drives to the traces
        of the layer above, when that one takes this layer's credit from them)."""
        self.drives = None
        if not self.plan[g + 1]:
            return y
        value, deep, e = self._last  # type: ignore[misc]
        self.drives = traces.dense_drives(
            x.detach(), value.detach(), e, module.weight.detach(), module.bucket_weight.detach()
        )
        return torch.relu(detached_readout(module, deep))
