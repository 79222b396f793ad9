"""ProcessModels of ``GammaNeuron`` for Lava's CPU backend.

``fixed_pt`` implements ``docs/fixed_point.md`` bit for bit, in int64 on Lava's WHC
layout, through the numba kernel of :mod:`.kernel` — written from that document,
independently of the PyTorch reference.
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

from sg_lava.processes.gamma_neuron.kernel import gamma_step
from sg_lava.processes.gamma_neuron.process import GammaNeuron


class _GammaModelBase(PyLoihiProcessModel):
    """Shared plumbing: parameter access and the per-synapse drive layout."""

    _cache: dict | None = None

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

    def _constants(self) -> dict:
        """Parameters in the dtypes and shapes the kernel takes, read once, at the first step.

        A compiled Lava network keeps its parameters (as netx's synapses keep their
        weights); to change them, build a new network.
        """
        if self._cache is None:
            top = (1 << (self._scalar("state_bits") - 1)) - 1
            self._cache = {
                "decay": self.decay.astype(np.int64).reshape(-1),
                "v": self.bucket_weight.astype(np.int64).reshape(self.decay.shape[0], -1),
                "bias": self.bias.astype(np.int64).reshape(-1),
                "channels": int(self.bias.shape[-1]),
                "per_synapse": bool(self._scalar("per_synapse")),
                "is_output": bool(self._scalar("is_output")),
                "scalars": tuple(
                    self._scalar(k)
                    for k in (
                        "drive_exp",
                        "bucket_weight_exp",
                        "theta0",
                        "mf",
                        "mf_bits",
                        "decay_out",
                        "decay_bits",
                    )
                )
                + (-top - 1, top),
            }
        return self._cache

    def run_spk(self) -> None:
        c = self._constants()
        a = self.a_in.recv()
        new_sample = self._new_sample()
        K = self.buckets.shape[0]
        out = np.empty(self.estimate.size, dtype=np.int64)
        gamma_step(
            np.ascontiguousarray(a).reshape(-1),
            self.buckets.reshape(K, -1),
            self.estimate.reshape(-1),
            self.y_prev.reshape(-1),
            out,
            self.sat_count,
            c["decay"],
            c["v"],
            c["bias"],
            c["channels"],
            c["per_synapse"],
            c["is_output"],
            new_sample,
            *c["scalars"],
        )
        self.s_out.send(out.reshape(self.estimate.shape))


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
