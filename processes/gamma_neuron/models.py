"""ProcessModels of ``GammaNeuron`` for Lava's CPU backend.

``fixed_pt`` implements ``docs/fixed_point.md`` bit for bit, in numpy int64 on Lava's
WHC layout — written from that document, independently of the PyTorch reference.
``floating_pt`` runs MODEL.md's float equations on the same Vars read as real numbers
(decays as ``decay / 2**decay_bits`` and so on), without rounding or saturation.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from sg_lava.processes.gamma_neuron.process import GammaNeuron


class _GammaModelBase(PyLoihiProcessModel):
    """Shared plumbing: parameter access and the per-synapse drive layout."""

    def _scalar(self, name: str) -> int:
        return int(getattr(self, name)[0])

    def _drives(self, a: np.ndarray) -> np.ndarray:
        """``a_in`` as (K, *neurons) drives for per-synapse layers; unchanged otherwise."""
        if not self._scalar("per_synapse"):
            return a
        K = self.decay.shape[0]
        split = a.reshape(*a.shape[:-1], K, a.shape[-1] // K)
        return np.moveaxis(split, -2, 0)

    def _new_sample(self) -> bool:
        """At a sample boundary: zero the state; the caller then ignores ``a_in``."""
        interval = self._scalar("reset_interval")
        if interval <= 0 or (self.time_step - 1) % interval:
            return False
        self.buckets[:] = 0
        self.estimate[:] = 0
        self.y_prev[:] = 0
        return True

    def _per_bucket(self, v: np.ndarray) -> np.ndarray:
        """Reshape a (K,) or (K, C) parameter to broadcast against (K, *neurons)."""
        extra = self.buckets.ndim - v.ndim
        return v.reshape(v.shape[0], *([1] * extra), *v.shape[1:])


@implements(proc=GammaNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGammaNeuronModelFixed(_GammaModelBase):
    """Bit-accurate integer model (docs/fixed_point.md §3)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    buckets: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    estimate: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    y_prev: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    sat_count: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)
    decay: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    bucket_weight: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    drive_exp: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    bucket_weight_exp: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    theta0: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    mf: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    decay_out: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    is_output: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    per_synapse: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    state_bits: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    decay_bits: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    mf_bits: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    reset_interval: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)

    def _limit(self, x: np.ndarray) -> np.ndarray:
        """Saturate to the signed state range, counting every value that changes."""
        top = (1 << (self._scalar("state_bits") - 1)) - 1
        if x.size == 0 or (x.max() <= top and x.min() >= -top - 1):
            return x  # the common case: nothing to limit, no copies
        limited = np.clip(x, -top - 1, top)
        self.sat_count[0] += int(np.count_nonzero(limited != x))
        return limited

    def _fraction(self, x: np.ndarray, d) -> np.ndarray:
        """Multiply by ``d / 2**decay_bits``, rounding toward zero.

        ``(p + (2**bits - 1 if p < 0 else 0)) >> bits`` is ``sign(p) * (|p| >> bits)``
        in four cheap integer operations (``p >> 63`` is -1 for negative ``p``).
        """
        bits = self._scalar("decay_bits")
        p = x * d
        p += (p >> 63) & ((1 << bits) - 1)
        p >>= bits
        return p

    @staticmethod
    def _shift(x: np.ndarray, e: int) -> np.ndarray:
        return np.left_shift(x, e) if e >= 0 else np.right_shift(x, -e)

    def run_spk(self) -> None:
        a = self.a_in.recv().astype(np.int64)
        if self._new_sample():
            a[:] = 0
        drive = self._limit(self._shift(self._drives(a), self._scalar("drive_exp")))
        one = 1 << self._scalar("decay_bits")
        d = self._per_bucket(self.decay)
        old = self.buckets
        decayed = self._fraction(old, d)
        if self._scalar("per_synapse"):
            inflow = np.zeros_like(old)
            inflow[:-1] = self._fraction(old[1:], one - d[1:])
            new = self._limit(decayed + inflow + drive)
            x = self._limit(new[0] + self.bias)
        else:
            inflow = np.empty_like(old)
            inflow[0] = drive
            inflow[1:] = self._fraction(old[:-1], one - d[1:])
            new = self._limit(decayed + inflow)
            weighted = (new * self._per_bucket(self.bucket_weight)).sum(axis=0)
            x = self._limit(self._shift(weighted, -self._scalar("bucket_weight_exp")) + self.bias)
        self.buckets[:] = new
        if self._scalar("is_output"):
            self.s_out.send(x)
            return
        y = np.maximum(x, 0)
        theta = self._limit(
            self._scalar("theta0") + ((self._scalar("mf") * self.y_prev) >> self._scalar("mf_bits"))
        )
        p = self._fraction(self.estimate, self._scalar("decay_out"))
        spikes = np.where(2 * (y - p) > theta, theta, 0)
        self.estimate[:] = self._limit(p + spikes)
        self.y_prev[:] = y
        self.s_out.send(spikes)


@implements(proc=GammaNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGammaNeuronModelFloat(_GammaModelBase):
    """MODEL.md's float equations on the same parameters (in state units)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    buckets: np.ndarray = LavaPyType(np.ndarray, float)
    estimate: np.ndarray = LavaPyType(np.ndarray, float)
    y_prev: np.ndarray = LavaPyType(np.ndarray, float)
    sat_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    decay: np.ndarray = LavaPyType(np.ndarray, float)
    bucket_weight: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    drive_exp: np.ndarray = LavaPyType(np.ndarray, np.int64)
    bucket_weight_exp: np.ndarray = LavaPyType(np.ndarray, np.int64)
    theta0: np.ndarray = LavaPyType(np.ndarray, float)
    mf: np.ndarray = LavaPyType(np.ndarray, float)
    decay_out: np.ndarray = LavaPyType(np.ndarray, float)
    is_output: np.ndarray = LavaPyType(np.ndarray, np.int64)
    per_synapse: np.ndarray = LavaPyType(np.ndarray, np.int64)
    state_bits: np.ndarray = LavaPyType(np.ndarray, np.int64)
    decay_bits: np.ndarray = LavaPyType(np.ndarray, np.int64)
    mf_bits: np.ndarray = LavaPyType(np.ndarray, np.int64)
    reset_interval: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        unit = 2.0 ** self._scalar("decay_bits")
        a = self.a_in.recv().astype(float)
        if self._new_sample():
            a[:] = 0.0
        c = self._drives(a) * 2.0 ** self._scalar("drive_exp")
        alpha = self._per_bucket(self.decay / unit)
        old = self.buckets.copy()
        if self._scalar("per_synapse"):
            new = alpha * old + c
            new[:-1] += (1 - alpha[1:]) * old[1:]
            x = new[0] + self.bias
        else:
            new = alpha * old
            new[0] += c
            new[1:] += (1 - alpha[1:]) * old[:-1]
            v = self._per_bucket(self.bucket_weight) * 2.0 ** -self._scalar("bucket_weight_exp")
            x = (new * v).sum(axis=0) + self.bias
        self.buckets[:] = new
        if self._scalar("is_output"):
            self.s_out.send(x)
            return
        y = np.maximum(x, 0.0)
        theta = self.theta0[0] + self.mf[0] / 2.0 ** self._scalar("mf_bits") * self.y_prev
        p = self.decay_out[0] / unit * self.estimate
        spikes = np.where(y - p > theta / 2, theta, 0.0)
        self.estimate[:] = p + spikes
        self.y_prev[:] = y
        self.s_out.send(spikes)
