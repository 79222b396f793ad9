"""The exact Loihi 2 fixed-point reference: integer dynamics, batched on tensors.

Implements ``docs/fixed_point.md`` step for step, batched over samples. The Lava
``fixed_pt`` ProcessModel implements the same document independently, per neuron (a numba
kernel, ``processes/gamma_neuron/kernel.py``); agreement between the two, spike for spike,
is what ``sg-lava verify`` checks.

Every value is an exact integer; every rounding, shift and saturation is the one the
document names. A float64 holds every integer below 2**53 exactly, and a sum or product of
such integers is exact, in any order, while no partial result reaches 2**53. So each layer
runs in float64 — BLAS or PyTorch's convolution for the synaptic sums, plain vectorised
arithmetic for the buckets, no integer division — when :meth:`FixedNetwork.layer_bound`
proves that every intermediate of its step stays below 2**53 (the synaptic sums: the
largest row sum of ``|w|`` times the largest input; the products: states times decays,
bucket weights and ``m_f``), and in int64 where it could not. On the CPU the synaptic sums
go further, to float32 (exact below 2**24), where the payloads split into a few limbs whose
products stay below that (:meth:`Synapse.limbs`). The values are the same integers either
way; outputs are int64.

The network is feedforward, so each layer runs a window of steps before the next starts
(:meth:`FixedNetwork.layer_window`): its synaptic sums for all those steps are one large
product (on the CPU, for sparse spikes into a dense layer, a sum of the weight rows that
spiked), and only the bucket recursion goes step by step: on the CPU in one compiled loop
per window (:mod:`sg_lava.reference.kernel`), elsewhere in PyTorch. Saturations are counted per
layer and per quantity, on the tensors, and read once per run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numba
import numpy as np
import torch
import torch.nn.functional as fn
from torch import Tensor

from sg_lava.devices import resolve_device
from sg_lava.export.qnet import QuantizedNetwork, QuantLayer
from sg_lava.reference.kernel import QUANTITIES, gamma_window, layer_arrays, sparse_product

EXACT = 1 << 53  # float64 represents every integer of magnitude up to this exactly
F32_EXACT = 1 << 24  # float32 likewise
# On the CPU a batch runs in chunks of samples whose largest layer holds about this many
# bucket states: each element-wise pass then works in cache and still amortises torch's
# per-call overhead (bench/reference_speed.py: at the DVS Gesture shape, chunks of 4
# samples ran 2-3x faster than the whole batch of 64; at the SHD shape it keeps all 64).
CHUNK_STATES = 1 << 18
# A dense layer's sums on the CPU add only the weight rows of non-zero inputs when at most
# this share of them is non-zero (SHD shape, one thread: hidden spikes at 0.05 summed 3x
# faster than by float64 BLAS, Poisson inputs at 0.1 2x faster than by float32 BLAS; at
# 0.2 still 1.2x).
SPARSE_SHARE = 1 / 8
# Each layer runs a window of steps before the next layer starts, its synaptic sums for
# all of them in one product: windows hold about this many drives (or inputs) per chunk.
WINDOW_VALUES = 1 << 23


def decay(x: Tensor, d: Tensor | int, bits: int) -> Tensor:
    """``sign(x*d) * (|x*d| >> bits)``: multiply by a fraction, round toward zero.

    On float64 or int32 integers the same value, in their dtype, provided ``x*d`` is below
    2**53 and the result below 2**31 (states of up to 30 bits: :meth:`FixedNetwork.float_layers`
    checks both): the product is taken in float64, scaling by a power of two is exact, and
    the conversion to int32 truncates toward zero in one vectorised pass (torch's ``trunc``
    is ~4x slower on this CPU, float64 to int64 ~15x).
    """
    if x.dtype in (torch.float64, torch.int32):
        f = torch.as_tensor(d * 2.0**-bits, dtype=torch.float64, device=x.device)  # exact
        y = (x * f).to(torch.int32)  # int32 * float64 -> float64
        return y if x.dtype == torch.int32 else y.to(x.dtype)
    return torch.div(x * d, 1 << bits, rounding_mode="trunc")


def shift(x: Tensor, e: int | Tensor) -> Tensor:
    """``x * 2**e``: left shift for e >= 0, arithmetic (floor) right shift otherwise.

    ``e`` may be a tensor of exponents that broadcasts against ``x`` (one per bucket copy).
    """
    if isinstance(e, Tensor):
        if x.is_floating_point():  # x * 2**e is exact; the floor changes only e < 0
            return (x * torch.exp2(e.to(x.dtype))).floor_()
        return torch.where(e >= 0, x << e.clamp(min=0), x >> (-e).clamp(min=0))
    if x.is_floating_point():
        y = x * 2.0**e
        return y if e >= 0 else y.floor_()
    return x << e if e >= 0 else x >> -e


def magnitude(x: Tensor) -> int:
    """The largest ``|x|`` (0 for an empty tensor), without allocating ``|x|``."""
    if not x.numel():
        return 0
    lo, hi = torch.aminmax(x)
    return max(-int(lo), int(hi))


def float32_products_exact() -> bool:
    """Whether PyTorch keeps float32 products in full precision on the CPU: no TF32 or
    bf16 allowed for matmuls (``torch.set_float32_matmul_precision``) or for oneDNN's
    convolutions (``torch.backends.mkldnn.conv.fp32_precision``)."""
    if torch.get_float32_matmul_precision() != "highest":
        return False
    mkldnn = torch.backends.mkldnn
    for backend in (mkldnn, getattr(mkldnn, "conv", None), getattr(mkldnn, "matmul", None)):
        if getattr(backend, "fp32_precision", "none") not in ("none", "ieee"):
            return False
    return True


def as_int64(x: Tensor) -> Tensor:
    """Integers on the CPU as int64. float64 goes through int32 where it fits (one
    vectorised pass; float64 to int64 is element by element on x86 without AVX-512)."""
    x = x.cpu()
    if x.is_floating_point() and magnitude(x) < 1 << 31:
        return x.to(torch.int32).long()
    return x.long()


def wrap(x: Tensor, bits: int) -> Tensor:
    """Two's complement wrap to ``bits`` (Lava's Conv ``signed_clamp``); exact on float64
    integers too (the divisor is a power of two)."""
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
        """``x`` saturated to ``bits`` signed bits. A run that does not count does not clamp
        either: while every value stays in range clamping changes nothing, and once one
        leaves it the run is discarded and redone counting (:meth:`FixedNetwork.run`)."""
        if not self.counting:
            self._note((layer, what), x, bits, None)
            return x
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        y = x.clamp(lo, hi)
        self._note((layer, what), x, bits, lambda: y != x)
        return y

    def note_peak(self, peak: float, bits: int, layer: int, what: str) -> None:
        """The largest magnitude ``what`` reached before saturation, from a loop that
        saturated without counting (:mod:`sg_lava.reference.kernel`; a run that does not count).
        Conservative: a value of exactly ``-2**(bits-1)`` also marks the run as exceeded."""
        key = (layer, what)
        self._pending.setdefault(key, ([], []))[1].append(torch.tensor([-peak, peak]))
        self._ranges[key] = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)

    def count_outside(self, x: Tensor, bits: int, layer: int, what: str) -> None:
        """Count values that do not fit ``bits`` signed bits, without changing them."""
        if bits >= 64:  # int64 holds it by construction
            self._note((layer, what), x, 64, lambda: torch.zeros_like(x, dtype=torch.bool))
            return
        half = 1 << (bits - 1)
        self._note((layer, what), x, bits, lambda: (x < -half) | (x >= half))

    def wrap(self, x: Tensor, bits: int, layer: int, what: str) -> Tensor:
        """``x`` wrapped to ``bits`` (not while not counting, as in :meth:`sat`)."""
        if not self.counting:
            self._note((layer, what), x, bits, None)
            return x
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
    """One layer's weights, prepared once: int64, float64 and float32 copies on the device.

    Called with int64 payloads it sums in int64. Called with float64 payloads (integers) it
    returns float64 integers, summed in float32 where that is exact and faster (on the CPU,
    see :meth:`limbs`), else in float64 (BLAS, or PyTorch's convolution).

    Per-synapse layers stack their K weight copies as extra outputs (dense rows, conv
    output channels), so one product gives every ``a^k``. ``row_l1`` is the largest sum of
    ``|w|`` over one output's inputs: no partial sum of that output exceeds it times the
    largest input magnitude.
    """

    layer: QuantLayer
    w_int: Tensor  # dense (in, outs) transposed for ``s @ w``; conv (outs, in*kH*kW)
    w_float: Tensor  # float64: dense as w_int; conv (outs, in, kH, kW)
    w_single: Tensor | None  # the same in float32 (None: not exact, or not on the CPU)
    row_l1: int

    @classmethod
    def prepare(cls, layer: QuantLayer, device: torch.device) -> Synapse:
        w = np.asarray(layer.weight, dtype=np.int64)
        per_out = w.reshape(-1, *w.shape[-3 if layer.kind == "conv" else -1 :])  # (K*out, ...)
        rows = per_out.reshape(per_out.shape[0], -1)  # one output per row
        w_int = torch.as_tensor(rows, device=device)
        if layer.kind == "dense":
            w_int = w_int.t().contiguous()
            w_float = w_int.double()
        else:
            w_float = torch.as_tensor(per_out, device=device).double()
        row_l1 = int(np.abs(rows).sum(1).max()) if rows.size else 0
        single = device.type == "cpu" and row_l1 < F32_EXACT
        return cls(layer, w_int, w_float, w_float.float() if single else None, row_l1)

    def bound(self, s_max: int) -> int:
        """The largest magnitude a sum (or partial sum) reaches on inputs up to ``s_max``."""
        return self.row_l1 * s_max

    def limbs(self, s_max: int) -> tuple[int, int]:
        """``(n, bits)``: payloads up to ``s_max`` split into ``n`` limbs of ``bits`` bits
        (the top one signed) whose float32 sums are exact: no partial sum of a limb's
        product reaches 2**24. ``n`` is 0 where float32 is not to be used.

        float32 products are used only where they are faster than one float64 product:
        for dense layers when one limb holds the payloads (sgemm is ~2x dgemm), for conv
        layers up to four (oneDNN's float32 convolution is 5-14x PyTorch's float64 one),
        and only while PyTorch keeps float32 products in full precision.
        """
        if self.w_single is None or not float32_products_exact():
            return 0, 0
        if 4 * self.bound(s_max) >= EXACT:  # the float64 recombination (partials < 3x)
            return 0, 0
        cap = (F32_EXACT - 1) // max(self.row_l1, 1)  # the largest limb magnitude allowed
        bits = (cap + 1).bit_length() - 1  # unsigned limbs of bits bits stay <= cap
        n, top = 1, s_max
        while top > cap:
            n += 1
            top = (s_max >> (bits * (n - 1))) + 1  # the top limb's magnitude, at most
        return (n, bits) if n <= (4 if self.layer.kind == "conv" else 1) else (0, 0)

    def sparse(self, s: Tensor) -> bool:
        """Whether payloads ``s`` (float integers) into this dense layer on the CPU are
        sparse enough (:data:`SPARSE_SHARE`) to be summed row by row (:func:`sparse_product`:
        in float32 where one limb is exact, else float64), on either recursion path."""
        if self.layer.kind != "dense" or s.device.type != "cpu" or not s.is_contiguous():
            return False
        return int(torch.count_nonzero(s)) <= SPARSE_SHARE * s.numel()

    def _product(self, s: Tensor, w: Tensor) -> Tensor:
        L = self.layer
        if L.kind == "dense":
            return s.reshape(s.shape[0], -1) @ w
        if not s.is_floating_point():
            return w @ im2col(s, L)
        s = s.reshape(s.shape[0], *L.in_shape)
        return fn.conv2d(s, w, None, L.stride, L.padding, L.dilation)

    def __call__(self, s: Tensor) -> Tensor:
        """Integer sums ``a`` (batch, *shape), or (batch, K, *shape) per synapse, in the
        payloads' dtype (float64: exact only below the :meth:`bound` check's 2**53)."""
        L = self.layer
        B = s.shape[0]
        if not s.is_floating_point():
            a = self._product(s, self.w_int)
        else:
            n, bits = self.limbs(magnitude(s))
            if n <= 1 and self.sparse(s):  # in float32 where one limb holds the payloads
                w = self.w_single if n else self.w_float
                a = torch.empty(B, w.shape[1], dtype=w.dtype, device=s.device)
                sparse_product(s.reshape(B, -1).to(w.dtype).numpy(), w.numpy(), a.numpy())
                a = a.double()
            elif n:  # Horner from the top limb: every partial value is an exact integer
                digits = [s]
                for _ in range(n - 1):
                    high = (digits[-1] * 2.0**-bits).floor_()
                    digits[-1] = digits[-1] - high * 2.0**bits
                    digits.append(high)
                a = self._product(digits.pop().float(), self.w_single).double()
                while digits:
                    part = self._product(digits.pop().float(), self.w_single).double()
                    a = a * 2.0**bits + part
            else:
                a = self._product(s, self.w_float)
        if L.per_synapse:
            return a.reshape(B, L.K, *L.shape)
        return a.reshape(B, *L.shape)


@dataclass
class FixedState:
    """Integer state of one layer: all int64, or (the float64 path) float64 integers with
    int32 buckets (float64 ones in the compiled loop)."""

    buckets: Tensor  # (batch, K, *shape): B^k, or q_k of the transposed cascade
    estimate: Tensor  # e
    y_prev: Tensor  # y(t-1)
    last_out: Tensor  # the layer's output at the last step run (what its synapse still holds)


def _channel(layer: QuantLayer, t: Tensor) -> Tensor:
    return t.view(-1, 1, 1) if layer.kind == "conv" else t


class FixedNetwork:
    """Run a :class:`QuantizedNetwork` on integer inputs, batched, exactly.

    ``device``: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``
    (:func:`sg_lava.devices.resolve_device`). ``float_sums``:
    None (default) runs in float64 every layer whose :meth:`layer_bound` proves it exact and
    in int64 the others; False forces int64 everywhere (the plain path the tests compare
    against); True forces float64 everywhere, proof or not (only for those tests).
    ``wrap``: conv sums wrap to ``state_bits`` as Lava's Conv does (default); False keeps
    them exact, for the quantiser's wide calibration run, which measures true values.
    ``compiled``: None (default) runs float64 layers' steps on the CPU in one compiled loop
    per window (:mod:`sg_lava.reference.kernel`); False keeps PyTorch's step by step (the
    path CUDA runs; the tests compare both).
    """

    def __init__(
        self,
        qnet: QuantizedNetwork,
        device: str | torch.device | None = None,
        *,
        float_sums: bool | None = None,
        wrap: bool = True,
        compiled: bool | None = None,
    ) -> None:
        self.qnet = qnet
        self.spec = qnet.spec
        self.device = resolve_device(device)
        self.float_sums = float_sums
        self.wrap = wrap
        self.compiled = self.device.type == "cpu" and compiled is not False
        dev = self.device
        self.synapses = [Synapse.prepare(layer, dev) for layer in qnet.layers]
        # the compiled window loop's parameters (CPU, float64 path: :meth:`layer_window`)
        self.arrays = [layer_arrays(layer, self.spec) for layer in qnet.layers]
        db = self.spec.decay_bits
        self.params: list[dict[torch.dtype, dict]] = []
        for layer in qnet.layers:
            n = layer.neuron
            v = None
            if n.bucket_weight is not None:
                v = torch.as_tensor(n.bucket_weight, dtype=torch.int64, device=dev)
                v = v.view(1, layer.K, -1, *([1, 1] if layer.kind == "conv" else []))
            d = torch.as_tensor(n.decay, dtype=torch.int64, device=dev)
            d = d.view(1, -1, *([1] * len(layer.shape)))
            bias = torch.as_tensor(n.bias, dtype=torch.int64, device=dev)
            p = {"decay": d, "leak": (1 << db) - d[:, 1:], "bias": _channel(layer, bias), "v": v}
            if n.copy_exp is not None:  # one drive shift per weight copy, broadcast like d
                p["drive_shift"] = torch.as_tensor(n.drive_shifts(), device=dev).view_as(d)
            as_float = {k: None if t is None else t.double() for k, t in p.items()}
            self.params.append({torch.int64: p, torch.float64: as_float})

    def layer_bound(self, i: int, s_max: int) -> int:
        """The largest magnitude any intermediate of layer ``i``'s step can reach on input
        payloads up to ``s_max``: its synaptic sums (shifted to state units, or wrapped) and
        the products of saturated states with decays, bucket weights and ``m_f``; the few
        sums of saturated states on top stay below ``4 * 2**(state_bits-1)``."""
        layer, spec = self.qnet.layers[i], self.spec
        n = layer.neuron
        top = 1 << (spec.state_bits - 1)  # a saturated state's magnitude
        a = self.synapses[i].bound(s_max)
        up = max(int(n.drive_shifts().max()), 0)
        products = [a << up, a + top, top << spec.decay_bits, top * abs(n.mf)]
        if n.bucket_weight is not None:
            products.append(layer.K * top * int(np.abs(n.bucket_weight).max(initial=0)))
        return max(products) + 4 * top

    def float_layers(self, input_max: int) -> list[bool]:
        """Per layer: whether it runs in float64 (True: proven exact) or in int64.

        Layer 0 sees the input (largest magnitude ``input_max``); every other layer sees
        spike payloads, which are saturated states: at most ``2**(state_bits-1)``.
        """
        if self.float_sums is not None:
            return [self.float_sums] * len(self.synapses)
        spikes = 1 << (self.spec.state_bits - 1)
        small = self.spec.state_bits <= 30  # buckets in int32, three summands and all
        return [
            small and self.layer_bound(i, input_max if i == 0 else spikes) < EXACT
            for i in range(len(self.synapses))
        ]

    def initial_state(
        self, batch: int, dtypes: list[torch.dtype], compiled: bool = False
    ) -> list[FixedState]:
        """Zero states. On the float64 path buckets are int32 for PyTorch's steps, float64
        for the compiled loop (``compiled``, which :meth:`layer_window` then runs)."""
        states = []
        for layer, dtype in zip(self.qnet.layers, dtypes):
            kw = {"dtype": dtype, "device": self.device}
            z = torch.zeros(batch, *layer.shape, **kw)
            buckets = torch.zeros(batch, layer.K, *layer.shape, **kw)
            states.append(
                FixedState(
                    buckets=buckets.int() if dtype == torch.float64 and not compiled else buckets,
                    estimate=z,
                    y_prev=z.clone(),
                    last_out=z.clone(),
                )
            )
        return states

    def drives(self, i: int, s: Tensor, sat: Saturation) -> Tensor:
        """Layer ``i``'s drives ``c`` (T, batch, [K,] *shape) from its input payloads ``s``
        (T, batch, *in_shape) over a window of steps: the synaptic sums, in one product for
        all the steps, shifted to state units and saturated. Time-major, so that a step's
        slice is contiguous."""
        layer, spec = self.qnet.layers[i], self.spec
        p = self.params[i][s.dtype]
        nb = spec.state_bits
        a = self.synapses[i](s.flatten(0, 1))  # the steps as extra samples
        if layer.kind == "conv" and self.wrap:  # Lava's Conv wraps its accumulator to 24 bits
            a = sat.wrap(a, nb, i, "synapse")
        elif layer.kind == "conv":  # exact: only the largest sum is of interest
            sat.count_outside(a, 64, i, "synapse")
        else:  # Lava's Dense keeps the sum exact in int32: beyond that is an overflow
            sat.count_outside(a, spec.sum_bits, i, "synapse")
        c = sat.sat(shift(a, p.get("drive_shift", layer.neuron.drive_exp)), nb, i, "drive")
        if c.is_floating_point():  # the float64 path keeps drives and buckets in int32
            c = c.to(torch.int32)
        return c.unflatten(0, s.shape[:2])

    def layer_step(
        self, i: int, c: Tensor, st: FixedState, sat: Saturation
    ) -> tuple[Tensor, FixedState]:
        """One step of layer ``i`` from its drives ``c`` (:meth:`drives`, one step);
        returns (out, state).

        ``out`` is the spike payload (hidden layers) or the readout ``x`` (output layer):
        int64 on the int64 path; on the float64 path float64 integers, from int32 drives
        and buckets (half the bytes of float64 in the step's largest passes).
        """
        layer, spec = self.qnet.layers[i], self.spec
        p = self.params[i][torch.int64 if c.dtype == torch.int64 else torch.float64]
        n = layer.neuron
        nb, db = spec.state_bits, spec.decay_bits
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
            return x, FixedState(B, st.estimate, st.y_prev, st.last_out)
        y = x.clamp(min=0)
        theta = sat.sat(n.theta0 + shift(n.mf * st.y_prev, -spec.mf_bits), nb, i, "threshold")
        pred = decay(st.estimate, n.decay_out, db)
        fire = 2 * (y - pred) > theta
        out = torch.where(fire, theta, 0)
        estimate = sat.sat(pred + out, nb, i, "estimate")
        return out, FixedState(B, estimate, y, st.last_out)

    def layer_window(
        self, i: int, s: Tensor, st: FixedState, timing: str, sat: Saturation
    ) -> tuple[Tensor, FixedState]:
        """Layer ``i`` over a window of W steps.

        ``s`` (W + 1, batch, *in_shape) holds the input payloads of the step before the
        window, then of its W steps; the result (W + 1, batch, *shape) holds the layer's
        output likewise, so it is the next layer's ``s`` as it stands. In Lava timing the
        synapse delivers each input one step late, so the drives come from ``s[:-1]``.

        The network is feedforward, so a layer can run a whole window before the next one
        starts: its synaptic sums are then one large product instead of W small ones.
        """
        c = self.drives(i, s[:-1] if timing == "lava" else s[1:], sat)
        out = st.last_out.new_empty(c.shape[0] + 1, *st.last_out.shape)
        out[0] = st.last_out
        if st.buckets.dtype == torch.float64:  # float64 path, compiled (initial_state)
            self._compiled_window(i, c, st, out[1:], sat)
            return out, FixedState(st.buckets, st.estimate, st.y_prev, out[-1])
        for t in range(c.shape[0]):
            out[t + 1], st = self.layer_step(i, c[t], st, sat)
        return out, FixedState(st.buckets, st.estimate, st.y_prev, out[-1])

    def _compiled_window(
        self, i: int, c: Tensor, st: FixedState, out: Tensor, sat: Saturation
    ) -> None:
        """Layer ``i``'s steps over the window of drives ``c`` in one compiled loop
        (:mod:`sg_lava.reference.kernel`): the float64 path's arithmetic, on the CPU, in a run
        that does not count (it records peaks; a value out of range makes the run redo
        itself counting, on :meth:`layer_step`). Advances ``st`` in place, fills ``out``."""
        layer = self.qnet.layers[i]
        W, B = c.shape[:2]
        N = int(np.prod(layer.shape))
        peaks = np.zeros((B, len(QUANTITIES), N))
        gamma_window(
            c.view(W, B, -1, N).numpy(),
            st.buckets.view(B, layer.K, N).numpy(),
            st.estimate.view(B, N).numpy(),
            st.y_prev.view(B, N).numpy(),
            out.view(W, B, N).numpy(),
            *self.arrays[i],
            peaks,
        )
        what = QUANTITIES[:2] if layer.is_output else QUANTITIES
        for q, peak in zip(what, peaks.max(axis=(0, 2)) if B and N else [0.0] * 4):
            sat.note_peak(float(peak), self.spec.state_bits, i, q)

    def run(
        self, x_int: Tensor | np.ndarray, timing: str | None = None
    ) -> tuple[Tensor, list[Tensor], Saturation]:
        """Run integer inputs (batch, T, *input_shape), the quantised inputs before the
        input encoder, which runs here as the host runs it before Lava.

        Returns the output readout (batch, T, *out_shape), every hidden layer's spike
        payloads (batch, T, *shape), both int64 on the CPU, and the saturation counts.
        ``timing`` defaults to the network's own.
        """
        timing = timing or self.qnet.timing
        x_int = self.qnet.encode_input(np.asarray(x_int))  # the host's input encoder
        x_int = torch.as_tensor(x_int, dtype=torch.int64).to(self.device)
        x_max = magnitude(x_int)
        floats = self.float_layers(x_max)
        dtypes = [torch.float64 if f else torch.int64 for f in floats]
        # Time-major; each layer's input starts with the step before: a zero step first
        lead = x_int.new_zeros(x_int.shape[1] + 1, *x_int.shape[:1], *x_int.shape[2:])
        if floats[0] and x_max < 1 << 31:  # int64 to float64 is slow; via int32
            lead, x_int = lead.to(torch.float64), x_int.to(torch.int32)
        lead[1:] = x_int.transpose(0, 1)
        # the compiled loops (sg_lava/reference/kernel.py) use as many threads as torch does
        numba.set_num_threads(min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
        # Calibrated networks rarely saturate: run with extremes only, and count per value
        # in a second run only if some value left its range.
        out, spikes, sat = self._run(lead, timing, dtypes, Saturation(counting=False))
        if sat.exceeded:
            out, spikes, sat = self._run(lead, timing, dtypes, Saturation())
        return out, spikes, sat

    def chunk_size(self, batch: int) -> int:
        """Samples run together: the whole batch on CUDA; on the CPU, about
        :data:`CHUNK_STATES` bucket states in the largest layer, and at least one sample
        per torch thread (the compiled loop runs samples in parallel)."""
        if self.device.type != "cpu":
            return max(batch, 1)
        per_sample = max(layer.K * int(np.prod(layer.shape)) for layer in self.qnet.layers)
        return max(1, min(batch, max(CHUNK_STATES // per_sample, torch.get_num_threads())))

    def _run(
        self, x_int: Tensor, timing: str, dtypes: list[torch.dtype], sat: Saturation
    ) -> tuple[Tensor, list[Tensor], Saturation]:
        chunk = self.chunk_size(x_int.shape[1])  # time-major: samples on dimension 1
        parts = [self._run_chunk(x, timing, dtypes, sat) for x in x_int.split(chunk, dim=1)]
        stacked = [torch.cat(p) for p in zip(*parts)]
        return stacked[-1], stacked[:-1], sat.settle()

    def window_steps(self, batch: int) -> int:
        """Steps run per window: about :data:`WINDOW_VALUES` drives or inputs at once."""
        per_step = max(
            max(int(np.prod(L.in_shape)), (L.K if L.per_synapse else 1) * int(np.prod(L.shape)))
            for L in self.qnet.layers
        )
        return max(1, WINDOW_VALUES // (max(batch, 1) * per_step))

    def _run_chunk(
        self, lead: Tensor, timing: str, dtypes: list[torch.dtype], sat: Saturation
    ) -> list[Tensor]:
        """Every layer's outputs (batch, T, *shape), int64 on the CPU, for one chunk of
        inputs (T + 1, batch, *input_shape), time-major, that start with a zero step."""
        steps, batch = lead.shape[0] - 1, lead.shape[1]
        states = self.initial_state(batch, dtypes, self.compiled and not sat.counting)
        outs: list[list[Tensor]] = [[s.last_out[None][:0]] for s in states]
        window = self.window_steps(batch)
        for start in range(0, steps, window):
            s = lead[start : start + window + 1]  # the step before, then the window's
            for i, dtype in enumerate(dtypes):
                s, states[i] = self.layer_window(i, s.to(dtype), states[i], timing, sat)
                outs[i].append(s[1:])
        whole = [torch.cat(o) if len(o) > 2 else o[-1] for o in outs]
        return [as_int64(o.transpose(0, 1)).contiguous() for o in whole]
