"""Online training with forward-mode traces: exact credit within a layer and across one.

``credit`` chooses what the online gradient sees (all memory flat in T):

* ``step``: the current step only (history detached), as the paper describes; the
  decays alpha get a one-step gradient.
* ``alpha``: plus the exact ``dB / d alpha`` of every layer's own buckets
  (:func:`sg_lava.traces.alpha_trace_step`); a single-layer network then gets the BPTT
  gradient of the same per-step loss exactly.
* ``traces``: plus, at every boundary between two dense layers, the exact derivative of
  the upper layer's buckets with respect to every parameter of the lower layer (the
  upper cascade run on ``d y / d theta``): a two-layer network gets the BPTT gradient
  exactly; deeper layers get their credit through the boundary above them one step
  deep. A boundary whose traces would exceed ``budget_mb`` falls back to ``alpha``.

The forward pass is the one of :meth:`GammaNetwork.step` (same values); only the
gradient paths differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sg_lava import dynamics, traces
from sg_lava.layers import GammaDense, GammaLayer
from sg_lava.network import GammaNetwork, LayerState, StepResult

CREDITS = ("step", "alpha", "traces")
GAIN = True
DEFAULT_BUDGET_MB = 64.0  # SHD-sized boundaries (140-380 MB) cost ~100x a step: off


@dataclass
class LayerTraces:
    """Forward-mode traces of one gamma layer's presynaptic buckets."""

    alpha: Tensor  # dB/d alpha of this layer: (batch, K, K, *in_shape)
    cross: Tensor | None = None  # dB/d theta of the layer below: (batch, K, H, N)
    pending: Tensor | None = None  # Lava timing: the drive of the previous step (batch, H, N)
    gain: Tensor | None = None  # response of the cascade to a constant 1 so far: (K,)


def traced_boundaries(
    net: GammaNetwork, batch: int, credit: str, budget_mb: float = DEFAULT_BUDGET_MB
) -> list[bool]:
    """Per gamma layer: does it carry traces with respect to the layer below?

    Only between two adjacent dense layers whose lower one has per-neuron bucket
    weights (the case :func:`sg_lava.traces.dense_drives` covers), within the budget.
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
    net: GammaNetwork, batch: int, plan: list[bool], dtype: torch.dtype
) -> list[LayerTraces]:
    """All-zero traces for ``batch`` samples."""
    out = []
    gammas = net.gamma_layers
    for g, (module, (in_shape, _)) in enumerate(
        (m, s) for m, s in zip(net.layers, net.shapes) if isinstance(m, GammaLayer)
    ):
        alpha = torch.zeros(batch, module.K, module.K, *in_shape, dtype=dtype)
        cross = pending = None
        if plan[g]:
            low = gammas[g - 1]
            n = low.in_features + 1 + 2 * low.K
            cross = torch.zeros(batch, module.K, low.out_features, n, dtype=dtype)
            pending = torch.zeros(batch, low.out_features, n, dtype=dtype)
        gain = torch.zeros(module.K, dtype=dtype)
        out.append(LayerTraces(alpha, cross, pending, gain))
    return out


def lower_params(layer: GammaDense) -> Tensor:
    """The parameters a cross trace is taken with respect to (alpha, not its logit)."""
    return traces.stacked_params(layer.weight, layer.bias, layer.bucket_weight, layer.alpha)


def detached_readout(layer: GammaDense, buckets: Tensor) -> Tensor:
    """``x`` of a dense layer with its parameters as constants (gradient to buckets only)."""
    z = buckets @ layer.weight.detach().t()
    return dynamics.readout(z, layer.bucket_weight.detach(), layer.bias.detach())


def traced_step(
    net: GammaNetwork,
    s: Tensor,
    states: list[LayerState],
    layer_traces: list[LayerTraces],
    plan: list[bool],
    timing: str | None = None,
) -> tuple[StepResult, list[LayerState], list[LayerTraces]]:
    """One step of :meth:`GammaNetwork.step` whose graph carries the traces.

    ``states`` are constants (detached) except ``pending`` (Lava timing); returns the
    step's result, the new states and the new traces.
    """
    timing = timing or net.timing
    gammas = net.gamma_layers
    new_states, new_traces, spikes = [], [], []
    drives: Tensor | None = None
    g = 0
    for module in net.layers:
        if not isinstance(module, GammaLayer):
            s = module(s)
            continue
        st, tr = states[g], layer_traces[g]
        pending, pending_drives = st.pending, drives
        if timing == "lava":
            s, pending = st.pending, s
            drives, pending_drives = tr.pending, drives
        alpha = module.alpha
        a = alpha.detach()
        gain = None
        if plan[g] and GAIN:
            gain = dynamics.bucket_step(tr.gain.view(1, -1), torch.ones(1, dtype=a.dtype), a)[0]
            value = dynamics.bucket_step(st.buckets, s.detach(), a) + traces.gain_term(gain, s)
        else:
            value = dynamics.bucket_step(st.buckets, s, a)  # gradient to s: one step
        e = traces.alpha_trace_step(tr.alpha, st.buckets, a)
        deep, cross = value, None
        if plan[g]:
            cross = dynamics.bucket_step(tr.cross, drives, a)
            deep = value + traces.cross_term(lower_params(gammas[g - 1]), cross)
        buckets = deep + traces.alpha_term(alpha, e)
        x = module.presynaptic_readout(buckets)
        new_traces.append(LayerTraces(e, cross, pending_drives if plan[g] else None, gain))
        if g == len(gammas) - 1:
            new_states.append(LayerState(value.detach(), st.estimate, st.y_prev, pending))
            return StepResult(x, spikes), new_states, new_traces
        y = torch.relu(x)
        alpha_out = gammas[g + 1].alpha[0].detach()
        code, estimate = dynamics.encoder_step(
            y.detach(), st.y_prev, st.estimate, net.theta0, net.m_f, alpha_out
        )
        new_states.append(LayerState(value.detach(), estimate, y.detach(), pending))
        spikes.append(code)
        drives = None
        if plan[g + 1]:  # the layer above takes this layer's credit from its traces
            drives = traces.dense_drives(
                x.detach(), value.detach(), e, module.weight.detach(), module.bucket_weight.detach()
            )
            y = torch.relu(detached_readout(module, deep))
        s = dynamics.straight_through(code, y)
        g += 1
    raise AssertionError("unreachable: the last layer is a gamma layer")


def train_batch_traced(
    net: GammaNetwork,
    x: Tensor,
    y: Tensor,
    mask: Tensor,
    loss: str,
    n_classes: int,
    credit: str = "traces",
    budget_mb: float = DEFAULT_BUDGET_MB,
) -> float:
    """Online gradients of one batch with forward-mode traces; returns the mean loss."""
    from sg_lava.training import step_loss, train_batch_online

    if credit == "step":
        return train_batch_online(net, x, y, mask, loss, n_classes)
    plan = traced_boundaries(net, x.shape[0], credit, budget_mb)
    states = net.initial_state(x.shape[0])
    layer_traces = initial_traces(net, x.shape[0], plan, x.dtype)
    total = mask.sum().clamp(min=1)
    value = 0.0
    for t in range(x.shape[1]):
        states = [s.detached() for s in states]
        res, states, layer_traces = traced_step(net, x[:, t], states, layer_traces, plan)
        m = mask[:, t]
        if m.any():
            lt = step_loss(res.output[m], y[m], loss, n_classes) / total
            lt.backward()
            value += float(lt.detach())
    return value
