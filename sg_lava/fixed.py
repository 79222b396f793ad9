"""The exact Loihi 2 fixed-point reference: integer dynamics, batched on tensors.

Implements ``docs/fixed_point.md`` step for step, batched over samples. The Lava
``fixed_pt`` ProcessModel implements the same document independently, per neuron (a numba
kernel, ``processes/gamma_neuron/kernel.py``); agreement between the two, spike for spike,
is what ``sg-lava verify`` checks.

Every value is an exact integer; every rounding, shift and saturation is the one the
document names. States live in int64. Synaptic sums — most of the work — go through
float64 BLAS where that is exact: a float64 holds every integer below 2**53, so a matrix
product of integers is exact, in any summation order, when no partial sum can reach 2**53.
:class:`FixedNetwork` proves that bound per layer (the largest row sum of ``|w|`` times the
largest input magnitude) and keeps int64 arithmetic for a layer where it could fail.
Saturations are counted per layer and per quantity, on the tensors, and read once per run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as fn
from torch import Tensor

from sg_lava.errors import UserError
from sg_lava.export.qnet import QuantizedNetwork, QuantLayer

EXACT = 1 << 53  # float64 represents every integer of magnitude up to this exactly


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``auto`` (or None): CUDA when present, CPU otherwise; ``cuda`` without one is an error."""
    name = str(device or "auto")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (use auto or cpu)")
    return torch.device(name)


def decay(x: Tensor, d: Tensor | int, bits: int) -> Tensor:
    """``sign(x*d) * (|x*d| >> bits)``: multiply by a fraction, round toward zero."""
    return torch.div(x * d, 1 << bits, rounding_mode="trunc")


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
    which the quantiser uses to calibrate each layer's scale. During a run the counts
    and extremes are kept as tensors on the run's device (no host sync per step);
    :meth:`settle` turns them into the integer ``counts`` and ``peaks`` once.
    """

    counts: Counter = field(default_factory=Counter)
    peaks: Counter = field(default_factory=Counter)
    counting: bool = True  # False: extremes only (a run that, if they leave a range, reruns)
    _pending: dict = field(default_factory=dict, repr=False)  # key -> (counts, extremes)
    _ranges: dict = field(default_factory=dict, repr=False)  # key -> (lo, hi) it must stay in
    exceeded: bool = False  # not counting, and some value left its range: counts unknown

    def _note(self, key: tuple[int, str], x: Tensor, bits: int, changed) -> None:
        if not x.numel():
            return
        counts, extremes = self._pending.setdefault(key, ([], []))
        self._ranges[key] = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        extremes.append(torch.stack(torch.aminmax(x)))
        if self.counting:
            counts.append(changed().sum())

    def sat(self, x: Tensor, bits: int, layer: int, what: str) -> Tensor:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        y = x.clamp(lo, hi)
        self._note((layer, what), x, bits, lambda: y != x)
        return y

    def count_outside(self, x: Tensor, bits: int, layer: int, what: str) -> None:
        """Count values that do not fit ``bits`` signed bits, without changing them."""
        if bits >= 64:  # int64 holds it by construction
            self._note((layer, what), x, 64, lambda: torch.zeros_like(x, dtype=torch.bool))
            return
        half = 1 << (bits - 1)
        self._note((layer, what), x, bits, lambda: (x < -half) | (x >= half))

    def wrap(self, x: Tensor, bits: int, layer: int, what: str) -> Tensor:
        y = wrap(x, bits)
        self._note((layer, what), x, bits, lambda: y != x)
        return y

    def settle(self) -> Saturation:
        """Read the run's tallies off the device into ``counts`` and ``peaks`` (once)."""
        for key, (counts, extremes) in self._pending.items():
            ext = torch.stack(extremes).cpu()
            lo, hi = int(ext[:, 0].min()), int(ext[:, 1].max())
            self.peaks[key] = max(self.peaks[key], -lo, hi)
            bottom, top = self._ranges[key]
            if not self.counting:
                self.exceeded |= lo < bottom or hi > top
            n = int(torch.stack(counts).sum()) if counts else 0
            if n:
                self.counts[key] += n
        self._pending.clear()
        return self

    def merge(self, other: Saturation) -> Saturation:
        """Add another run's counts and take the larger peaks (batched evaluation)."""
        self.counts.update(other.counts)
        for key, v in other.peaks.items():
            self.peaks[key] = max(self.peaks[key], v)
        return self

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))


def im2col(s: Tensor, layer: QuantLayer) -> Tensor:
    """Conv input patches (batch, in*kH*kW, H_out*W_out), any dtype (PyTorch's
    cross-correlation order, with the layer's stride, padding and dilation)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (
        layer.kernel_size,
        layer.stride,
        layer.padding,
        layer.dilation,
    )
    x = fn.pad(s, (pw, pw, ph, ph))
    x = x.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)[..., ::dh, ::dw]
    B, C, H, W = x.shape[:4]
    return x.permute(0, 1, 4, 5, 2, 3).reshape(B, C * kh * kw, H * W)


@dataclass
class Synapse:
    """One layer's weights, prepared once: int64 and float64 copies on the run's device.

    Per-synapse layers stack their K weight copies as extra outputs (dense rows, conv
    output channels), so one product gives every ``a^k``. ``row_l1`` is the largest sum of
    ``|w|`` over one output's inputs: no partial sum of that output exceeds it times the
    largest input magnitude.
    """

    layer: QuantLayer
    w_int: Tensor  # dense (in, outs) transposed for ``s @ w``; conv (outs, in*kH*kW)
    w_float: Tensor
    row_l1: int

    @classmethod
    def prepare(cls, layer: QuantLayer, device: torch.device) -> Synapse:
        w = np.asarray(layer.weight, dtype=np.int64)
        rows = w.reshape(-1, *w.shape[-3 if layer.kind == "conv" else -1 :])  # (K*out, ...)
        rows = rows.reshape(rows.shape[0], -1)  # one output per row
        w_int = torch.as_tensor(rows, device=device)
        if layer.kind == "dense":
            w_int = w_int.t().contiguous()
        row_l1 = int(np.abs(rows).sum(1).max()) if rows.size else 0
        return cls(layer, w_int, w_int.double(), row_l1)

    def exact_in_float(self, s_max: int) -> bool:
        """Whether float64 sums are exact for inputs of magnitude at most ``s_max``."""
        return self.row_l1 * s_max < EXACT

    def __call__(self, s: Tensor, in_float: bool) -> Tensor:
        """Integer sums ``a`` (batch, *shape), or (batch, K, *shape) per synapse (int64)."""
        L = self.layer
        B = s.shape[0]
        if L.kind == "dense":
            x = s.reshape(B, -1)
            a = (x.double() @ self.w_float).long() if in_float else x @ self.w_int
        else:
            cols = im2col(s, L)
            a = (self.w_float @ cols.double()).long() if in_float else self.w_int @ cols
        if L.per_synapse:
            return a.reshape(B, L.K, *L.shape)
        return a.reshape(B, *L.shape)


def synapse(layer: QuantLayer, s: Tensor) -> Tensor:
    """Integer synaptic sums of ``layer`` on int64 payloads ``s`` (the plain int64 path)."""
    return Synapse.prepare(layer, s.device)(s, in_float=False)


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
    """Run a :class:`QuantizedNetwork` on integer inputs, batched, exactly.

    ``device``: ``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda``. ``float_sums``:
    None (default) sums in float64 in every layer whose bound proves it exact and in int64
    elsewhere; False forces int64 everywhere (the plain path the tests compare against);
    True forces float64 everywhere, proof or not (only for those tests).
    """

    def __init__(
        self,
        qnet: QuantizedNetwork,
        device: str | torch.device | None = None,
        float_sums: bool | None = None,
    ) -> None:
        self.qnet = qnet
        self.spec = qnet.spec
        self.device = resolve_device(device)
        self.float_sums = float_sums
        dev = self.device
        self.synapses = [Synapse.prepare(layer, dev) for layer in qnet.layers]
        db = self.spec.decay_bits
        self.params = []
        for layer in qnet.layers:
            n = layer.neuron
            v = None
            if n.bucket_weight is not None:
                v = torch.as_tensor(n.bucket_weight, dtype=torch.int64, device=dev)
                v = v.view(1, layer.K, -1, *([1, 1] if layer.kind == "conv" else []))
            d = torch.as_tensor(n.decay, dtype=torch.int64, device=dev)
            d = d.view(1, -1, *([1] * len(layer.shape)))
            bias = torch.as_tensor(n.bias, dtype=torch.int64, device=dev)
            self.params.append(
                {"decay": d, "leak": (1 << db) - d[:, 1:], "bias": _channel(layer, bias), "v": v}
            )

    def sum_paths(self, input_max: int) -> list[bool]:
        """Per layer: whether its synaptic sums go through float64 (True) or int64.

        Layer 0 sees the input (largest magnitude ``input_max``); every other layer sees
        spike payloads, which are saturated states: at most ``2**(state_bits-1)``.
        """
        if self.float_sums is not None:
            return [self.float_sums] * len(self.synapses)
        spikes = 1 << (self.spec.state_bits - 1)
        return [
            syn.exact_in_float(input_max if i == 0 else spikes)
            for i, syn in enumerate(self.synapses)
        ]

    def initial_state(self, batch: int) -> list[FixedState]:
        states = []
        for layer in self.qnet.layers:
            z = torch.zeros(batch, *layer.shape, dtype=torch.int64, device=self.device)
            states.append(
                FixedState(
                    buckets=torch.zeros(
                        batch, layer.K, *layer.shape, dtype=torch.int64, device=self.device
                    ),
                    estimate=z,
                    y_prev=z.clone(),
                    pending=torch.zeros(
                        batch, *layer.in_shape, dtype=torch.int64, device=self.device
                    ),
                )
            )
        return states

    def layer_step(
        self, i: int, s: Tensor, st: FixedState, sat: Saturation, in_float: bool = False
    ) -> tuple[Tensor, FixedState]:
        """One step of layer ``i`` on integer input payloads ``s``; returns (out, state).

        ``out`` is the spike payload (hidden layers) or the readout ``x`` (output layer).
        """
        layer, p, spec = self.qnet.layers[i], self.params[i], self.spec
        n = layer.neuron
        nb, db = spec.state_bits, spec.decay_bits
        a = self.synapses[i](s, in_float)
        if layer.kind == "conv":  # Lava's Conv wraps its accumulator to 24 bits
            a = sat.wrap(a, nb, i, "synapse")
        else:  # Lava's Dense keeps the sum exact in int32: beyond that is an overflow
            sat.count_outside(a, spec.sum_bits, i, "synapse")
        c = sat.sat(shift(a, n.drive_exp), nb, i, "drive")
        B = st.buckets
        if layer.per_synapse:
            nxt = torch.cat([decay(B[:, 1:], p["leak"], db), torch.zeros_like(B[:, :1])], 1)
            B = sat.sat(decay(B, p["decay"], db) + nxt + c, nb, i, "bucket")
            x = sat.sat(B[:, 0] + p["bias"], nb, i, "readout")
        else:
            nxt = decay(B, p["decay"], db)
            nxt[:, 0] += c
            nxt[:, 1:] += decay(B[:, :-1], p["leak"], db)
            B = sat.sat(nxt, nb, i, "bucket")
            acc = (B * p["v"]).sum(1)
            x = sat.sat(shift(acc, -n.bucket_weight_exp) + p["bias"], nb, i, "readout")
        if layer.is_output:
            return x, FixedState(B, st.estimate, st.y_prev, st.pending)
        y = x.clamp(min=0)
        theta = sat.sat(n.theta0 + ((n.mf * st.y_prev) >> spec.mf_bits), nb, i, "threshold")
        pred = decay(st.estimate, n.decay_out, db)
        fire = 2 * (y - pred) > theta
        out = torch.where(fire, theta, 0)
        estimate = sat.sat(pred + out, nb, i, "estimate")
        return out, FixedState(B, estimate, y, st.pending)

    def run(
        self, x_int: Tensor | np.ndarray, timing: str | None = None
    ) -> tuple[Tensor, list[Tensor], Saturation]:
        """Run integer inputs (batch, T, *input_shape).

        Returns the output readout (batch, T, *out_shape), every hidden layer's spike
        payloads (batch, T, *shape), both int64 on the CPU, and the saturation counts.
        ``timing`` defaults to the network's own.
        """
        timing = timing or self.qnet.timing
        x_int = torch.as_tensor(np.asarray(x_int), dtype=torch.int64).to(self.device)
        paths = self.sum_paths(int(x_int.abs().max()) if x_int.numel() else 0)
        # Calibrated networks rarely saturate: run with extremes only, and count per value
        # in a second run only if some value left its range.
        out, spikes, sat = self._run(x_int, timing, paths, Saturation(counting=False))
        if sat.exceeded:
            out, spikes, sat = self._run(x_int, timing, paths, Saturation())
        return out, spikes, sat

    def _run(
        self, x_int: Tensor, timing: str, paths: list[bool], sat: Saturation
    ) -> tuple[Tensor, list[Tensor], Saturation]:
        states = self.initial_state(x_int.shape[0])
        n = len(self.qnet.layers)
        outs: list[list[Tensor]] = [[] for _ in range(n)]
        for t in range(x_int.shape[1]):
            s = x_int[:, t]
            for i in range(n):
                st = states[i]
                if timing == "lava":
                    s, st = st.pending, FixedState(st.buckets, st.estimate, st.y_prev, s)
                s, states[i] = self.layer_step(i, s, st, sat, paths[i])
                outs[i].append(s)
        stacked = [torch.stack(o, 1).cpu() for o in outs]
        return stacked[-1], stacked[:-1], sat.settle()
