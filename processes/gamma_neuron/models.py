"""ProcessModels of ``GammaNeuron`` for Lava's CPU backend.

``fixed_pt`` implements ``docs/fixed_point.md`` bit for bit, in int64 on Lava's WHC
layout, through the numba kernel of :mod:`.kernel` — written from that document,
independently of the PyTorch reference.
``floating_pt`` runs MODEL.md's float equations on the same Vars read as real numbers
(decays as ``decay / 2**decay_bits`` and so on), without rounding or saturation.

The parameter Vars' types come from the fields of ``GammaParams`` (:func:`_parameter_types`).
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from sg_lava.export.neuron import param_infos
from sg_lava.processes.gamma_neuron.kernel import SCALARS, gamma_step
from sg_lava.processes.gamma_neuron.process import CONTROL_VARS, STATE_VARS, GammaNeuron


def _parameter_types(real: type):
    """Class decorator: a LavaPyType for every state, parameter and control Var.

    ``real`` is the dtype of the state and of the parameters that ``GammaParams`` marks as
    real numbers; switches, exponents and widths are always int64.
    """

    def decorate(cls):
        for name in STATE_VARS:
            setattr(cls, name, LavaPyType(np.ndarray, real))
        for name, info in param_infos():
            setattr(cls, name, LavaPyType(np.ndarray, real if info.real else np.int64))
        for name in CONTROL_VARS:
            setattr(cls, name, LavaPyType(np.ndarray, np.int64))
        return cls

    return decorate


class _GammaModelBase(PyLoihiProcessModel):
    """Shared plumbing: parameter access and the sample-boundary reset."""

    def _scalar(self, name: str) -> int:
        return int(getattr(self, name)[0])

    def _new_sample(self) -> bool:
        """At a sample boundary: zero the state; the caller then ignores ``a_in``."""
        interval = self._scalar("reset_interval")
        if interval <= 0 or (self.time_step - 1) % interval:
            return False
        for name in STATE_VARS:
            getattr(self, name)[:] = 0
        return True


@implements(proc=GammaNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
@_parameter_types(np.int64)
class PyGammaNeuronModelFixed(_GammaModelBase):
    """Bit-accurate integer model (docs/fixed_point.md §3)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    _constants: dict | None = None

    def _kernel_args(self) -> dict:
        """Parameters in the dtypes and shapes the kernel takes, read once, at the first step.

        A compiled Lava network keeps its parameters (as netx's synapses keep their
        weights); to change them, build a new network.
        """
        if self._constants is None:
            K = self.decay.shape[0]
            extra = {"channels": int(self.bias.shape[-1])}
            self._constants = {
                "decay": self.decay.astype(np.int64).reshape(-1),
                "copy_exp": self.copy_exp.astype(np.int64).reshape(-1),
                "v": self.bucket_weight.astype(np.int64).reshape(K, -1),
                "bias": self.bias.astype(np.int64).reshape(-1),
                "p": np.array([extra[k] if k in extra else self._scalar(k) for k in SCALARS]),
            }
        return self._constants

    def run_spk(self) -> None:
        c = self._kernel_args()
        a = self.a_in.recv()
        new_sample = self._new_sample()
        K = self.buckets.shape[0]
        out = np.empty(self.estimate.size, dtype=np.int64)
        state = (self.buckets.reshape(K, -1), self.estimate.reshape(-1), self.y_prev.reshape(-1))
        gamma_step(
            np.ascontiguousarray(a).reshape(-1),
            *state,
            out,
            c["decay"],
            c["copy_exp"],
            c["v"],
            c["bias"],
            c["p"],
            new_sample,
        )
        self.s_out.send(out.reshape(self.estimate.shape))


@implements(proc=GammaNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
@_parameter_types(float)
class PyGammaNeuronModelFloat(_GammaModelBase):
    """MODEL.md's float equations on the same parameters (in state units)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def _drives(self, a: np.ndarray) -> np.ndarray:
        """``a_in`` as (K, *neurons) drives for per-synapse layers; unchanged otherwise."""
        if not self._scalar("per_synapse"):
            return a
        K = self.decay.shape[0]
        split = a.reshape(*a.shape[:-1], K, a.shape[-1] // K)
        return np.moveaxis(split, -2, 0)

    def _per_bucket(self, v: np.ndarray) -> np.ndarray:
        """Reshape a (K,) or (K, C) parameter to broadcast against (K, *neurons)."""
        extra = self.buckets.ndim - v.ndim
        return v.reshape(v.shape[0], *([1] * extra), *v.shape[1:])

    def _buckets(self, c: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """New buckets from the drive(s) ``c`` (the cascade, or its transposed form)."""
        old = self.buckets.copy()
        new = alpha * old
        if self._scalar("per_synapse"):
            new += c
            new[:-1] += (1 - alpha[1:]) * old[1:]
        else:
            new[0] += c
            new[1:] += (1 - alpha[1:]) * old[:-1]
        return new

    def run_spk(self) -> None:
        unit = 2.0 ** self._scalar("decay_bits")
        a = self.a_in.recv().astype(float)
        if self._new_sample():
            a[:] = 0.0
        c = self._drives(a) * 2.0 ** self._scalar("drive_exp")
        if self._scalar("per_synapse"):  # copy k is stored 2**copy_exp[k] finer
            c = c * self._per_bucket(2.0 ** -self.copy_exp.astype(float))
        self.buckets[:] = self._buckets(c, self._per_bucket(self.decay / unit))
        if self._scalar("per_synapse"):
            x = self.buckets[0] + self.bias
        else:
            v = self._per_bucket(self.bucket_weight) * 2.0 ** -self._scalar("bucket_weight_exp")
            x = (self.buckets * v).sum(axis=0) + self.bias
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
