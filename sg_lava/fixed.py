"""The exact Loihi 2 fixed-point reference: integer dynamics, batched on int64 tensors.

Implements ``docs/fixed_point.md`` step for step, batched over samples. The Lava
``fixed_pt`` ProcessModel implements the same document independently, per neuron (a numba
kernel, ``processes/gamma_neuron/kernel.py``); agreement between the two, spike for spike,
is what ``sg-lava verify`` checks.

All arithmetic is exact in int64; every rounding, shift and saturation is the one the
document names. Saturations are counted per layer and per quantity, never silent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as fn
from torch import Tensor

from sg_lava.export.qnet import QuantizedNetwork, QuantLayer


def decay(x: Tensor, d: Tensor | int, bits: int) -> Tensor:
    """``sign(x*d) * (|x*d| >> bits)``: multiply by a fraction, round toward zero."""
    p = x * d
    return torch.sign(p) * (p.abs() >> bits)


def shift(x: Tensor, e: int) -> Tensor:
    """``x * 2**e``: left shift for e >= 0, arithmetic (floor) right shift otherwise."""
    return x << e if e >= 0 else x >> -e


def wrap(x: Tensor, bits: int) -> Tensor:
    """Two's complement wrap to ``bits`` (Lava's Conv ``signed_clamp``)."""
    half = 1 << (bits - 1)
    return torch.remainder(x + half, 1 << bits) - half


@dataclass
class Saturation:
    """Counts of values that saturated (or wrapped), by layer and quantity.

    Also keeps the largest magnitude each layer reached before limiting (``peaks``),
    which the quantiser uses to calibrate each layer's scale.
    """

    counts: Counter = field(default_factory=Counter)
    peaks: Counter = field(default_factory=Counter)

    def _peak(self, x: Tensor, layer: int, what: str) -> None:
        if x.numel():
            key = (layer, what)
            self.peaks[key] = max(self.peaks[key], int(x.abs().max()))

    def sat(self, x: Tensor, bits: int, layer: int, what: str) -> Tensor:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        self._peak(x, layer, what)
        y = x.clamp(lo, hi)
        n = int((y != x).sum())
        if n:
            self.counts[(layer, what)] += n
        return y

    def count_outside(self, x: Tensor, bits: int, layer: int, what: str) -> None:
        """Count values that do not fit ``bits`` signed bits, without changing them."""
        self._peak(x, layer, what)
        if bits >= 64:  # int64 holds it by construction
            return
        n = int(((x < -(1 << (bits - 1))) | (x >= (1 << (bits - 1)))).sum())
        if n:
            self.counts[(layer, what)] += n

    def wrap(self, x: Tensor, bits: int, layer: int, what: str) -> Tensor:
        self._peak(x, layer, what)
        y = wrap(x, bits)
        n = int((y != x).sum())
        if n:
            self.counts[(layer, what)] += n
        return y

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))


def synapse(layer: QuantLayer, s: Tensor) -> Tensor:
    """Integer synaptic sums ``a`` (batch, *shape), or (batch, K, *shape) per synapse.

    ``s`` is (batch, *in_shape) int64. Conv sums are exact in float64 (they stay far
    below 2**53); dense sums use int64 matmul.
    """
    weights = [layer.weight] if not layer.per_synapse else list(layer.weight)
    out = []
    for w in weights:
        wt = torch.as_tensor(np.asarray(w), dtype=torch.int64)
        if layer.kind == "dense":
            out.append(s.reshape(s.shape[0], -1) @ wt.t())
        else:
            a = fn.conv2d(
                s.double(), wt.double(), None, layer.stride, layer.padding, layer.dilation
            )
            out.append(a.round().to(torch.int64))
    return out[0] if not layer.per_synapse else torch.stack(out, 1)


@dataclass
class FixedState:
    """Integer state of one layer (all int64)."""

    buckets: Tensor  # (batch, K, *shape): B^k, or q_k of the transposed cascade
    estimate: Tensor  # e
    y_prev: Tensor  # y(t-1)
    pending: Tensor  # Lava-aligned timing: input of the previous step


def _channel(layer: QuantLayer, t: Tensor) -> Tensor:
    return t.view(-1, 1, 1) if layer.kind == "conv" else t


class FixedNetwork:
    """Run a :class:`QuantizedNetwork` on integer inputs, batched, exactly."""

    def __init__(self, qnet: QuantizedNetwork) -> None:
        self.qnet = qnet
        self.spec = qnet.spec
        self.params = []
        for layer in qnet.layers:
            n = layer.neuron
            v = None
            if n.bucket_weight is not None:
                v = torch.as_tensor(n.bucket_weight, dtype=torch.int64)
                v = v.view(layer.K, -1, *([1, 1] if layer.kind == "conv" else []))
            bias = torch.as_tensor(n.bias, dtype=torch.int64)
            self.params.append(
                {
                    "decay": torch.as_tensor(n.decay, dtype=torch.int64),
                    "bias": _channel(layer, bias),
                    "v": v,
                }
            )

    def initial_state(self, batch: int) -> list[FixedState]:
        states = []
        for layer in self.qnet.layers:
            z = torch.zeros(batch, *layer.shape, dtype=torch.int64)
            states.append(
                FixedState(
                    buckets=torch.zeros(batch, layer.K, *layer.shape, dtype=torch.int64),
                    estimate=z,
                    y_prev=z.clone(),
                    pending=torch.zeros(batch, *layer.in_shape, dtype=torch.int64),
                )
            )
        return states

    def layer_step(
        self, i: int, s: Tensor, st: FixedState, sat: Saturation
    ) -> tuple[Tensor, FixedState]:
        """One step of layer ``i`` on integer input payloads ``s``; returns (out, state).

        ``out`` is the spike payload (hidden layers) or the readout ``x`` (output layer).
        """
        layer, p, spec = self.qnet.layers[i], self.params[i], self.spec
        n = layer.neuron
        nb, db = spec.state_bits, spec.decay_bits
        a = synapse(layer, s)
        if layer.kind == "conv":  # Lava's Conv wraps its accumulator to 24 bits
            a = sat.wrap(a, nb, i, "synapse")
        else:  # Lava's Dense keeps the sum exact in int32: beyond that is an overflow
            sat.count_outside(a, spec.sum_bits, i, "synapse")
        c = sat.sat(shift(a, n.drive_exp), nb, i, "drive")
        d = p["decay"].view(1, -1, *([1] * len(layer.shape)))
        B = st.buckets
        if layer.per_synapse:
            nxt = torch.cat(
                [decay(B[:, 1:], (1 << db) - d[:, 1:], db), torch.zeros_like(B[:, :1])], 1
            )
            B = sat.sat(decay(B, d, db) + nxt + c, nb, i, "bucket")
            x = sat.sat(B[:, 0] + p["bias"], nb, i, "readout")
        else:
            prev = torch.cat([c.unsqueeze(1), decay(B[:, :-1], (1 << db) - d[:, 1:], db)], 1)
            B = sat.sat(decay(B, d, db) + prev, nb, i, "bucket")
            acc = (B * p["v"].unsqueeze(0)).sum(1)
            x = sat.sat(shift(acc, -n.bucket_weight_exp) + p["bias"], nb, i, "readout")
        if layer.is_output:
            return x, FixedState(B, st.estimate, st.y_prev, st.pending)
        y = x.clamp(min=0)
        theta = sat.sat(n.theta0 + ((n.mf * st.y_prev) >> spec.mf_bits), nb, i, "threshold")
        pred = decay(st.estimate, n.decay_out, db)
        fire = 2 * (y - pred) > theta
        out = torch.where(fire, theta, torch.zeros_like(theta))
        estimate = sat.sat(pred + out, nb, i, "estimate")
        return out, FixedState(B, estimate, y, st.pending)

    def run(
        self, x_int: Tensor | np.ndarray, timing: str | None = None
    ) -> tuple[Tensor, list[Tensor], Saturation]:
        """Run integer inputs (batch, T, *input_shape).

        Returns the output readout (batch, T, *out_shape), every hidden layer's spike
        payloads (batch, T, *shape) and the saturation counts. ``timing`` defaults to
        the network's own.
        """
        timing = timing or self.qnet.timing
        x_int = torch.as_tensor(np.asarray(x_int), dtype=torch.int64)
        states = self.initial_state(x_int.shape[0])
        sat = Saturation()
        n = len(self.qnet.layers)
        outs: list[list[Tensor]] = [[] for _ in range(n)]
        for t in range(x_int.shape[1]):
            s = x_int[:, t]
            for i in range(n):
                st = states[i]
                if timing == "lava":
                    s, st = st.pending, FixedState(st.buckets, st.estimate, st.y_prev, s)
                s, states[i] = self.layer_step(i, s, st, sat)
                outs[i].append(s)
        stacked = [torch.stack(o, 1) for o in outs]
        return stacked[-1], stacked[:-1], sat
