"""The integer parameters of one layer of gamma neurons — the one place they are listed.

:class:`GammaParams` holds them with the names of the paper and of Lava; each field's
metadata (:class:`ParamInfo`) says its shape, its valid range under a
:class:`~sg_lava.export.qnet.FixedPointSpec`, where ``net.h5`` stores it and whether the
``floating_pt`` model reads it as a real number. Everything else is derived from that list:
the HDF5 writer, reader and validator (:mod:`sg_lava.export.hdf5`), the ``GammaNeuron``
Process's Vars and its ProcessModels' types (:mod:`sg_lava.processes.gamma_neuron`). Adding a
parameter means adding a field here and using it in the two dynamics (``sg_lava/reference/fixed.py``
and ``processes/gamma_neuron/kernel.py``). Semantics: ``docs/fixed_point.md``. numpy only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sg_lava.export.qnet import FixedPointSpec

Bounds = Callable[["FixedPointSpec"], tuple[int, int]]

# The bit widths of FixedPointSpec that the neuron dynamics read (GammaNeuron carries them).
DYNAMICS_WIDTHS = ("state_bits", "decay_bits", "mf_bits")


@dataclass(frozen=True)
class ParamInfo:
    """What the consumers of a parameter need to know about it."""

    shape: str  # "" one integer, "K" per bucket, "KC" per bucket and channel, "C" per channel
    doc: str
    bounds: Bounds  # inclusive valid range of every entry, given the file's bit widths
    real: bool = True  # the floating_pt model reads it as a real number (else an integer)
    flag: bool = False  # a 0/1 switch, held as bool
    location: str = "neuron"  # net.h5: "neuron" -> layer/i/neuron/<name>; "layer" -> layer/i/<name>
    optional: bool = False  # may be None (and absent from the file)
    dynamics: bool = True  # read by the neuron dynamics (a word the core stores); else metadata


def _param(shape: str, doc: str, bounds: Bounds, default: Any = MISSING, **info: Any) -> Any:
    return field(default=default, metadata={"info": ParamInfo(shape, doc, bounds, **info)})


def _state(spec: FixedPointSpec) -> tuple[int, int]:
    top = (1 << (spec.state_bits - 1)) - 1
    return -top, top


def _exponent(spec: FixedPointSpec) -> tuple[int, int]:
    return -62, 62


def _flag(spec: FixedPointSpec) -> tuple[int, int]:
    return 0, 1


def values_equal(u: Any, v: Any) -> bool:
    """Equality of parameter values, arrays compared element by element."""
    if isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
        return np.array_equal(np.asarray(u), np.asarray(v))
    return bool(u == v)


@dataclass(eq=False)
class GammaParams:
    """The integer parameters of one layer of SpikingGamma neurons (docs/fixed_point.md §2)."""

    decay: np.ndarray = _param(
        "K",
        "alpha_k as d_k = round(alpha_k * 2**decay_bits)",
        lambda s: (1, (1 << s.decay_bits) - 1),
    )
    bucket_weight: np.ndarray | None = _param(
        "KC",
        "per-neuron readout mantissas v_k (None for per-synapse layers: folded into the weight)",
        lambda s: (-(1 << (s.bucket_weight_bits - 1)), (1 << (s.bucket_weight_bits - 1)) - 1),
        optional=True,
    )
    bucket_weight_exp: int = _param("", "readout shift: v = mantissa * 2**-exp", _exponent)
    bias: np.ndarray = _param("C", "b, in state units", _state, location="layer")
    drive_exp: int = _param("", "shift from the synaptic sum to state units", _exponent)
    theta0: int = _param(
        "", "base threshold, state units", lambda s: (0, (1 << (s.state_bits - 1)) - 1)
    )
    mf: int = _param(
        "", "threshold factor m_f * 2**mf_bits", lambda s: (0, (1 << s.state_bits) - 1)
    )
    decay_out: int = _param(
        "",
        "the receiving layer's first decay (the encoder's prediction); 0 for the output layer",
        lambda s: (0, (1 << s.decay_bits) - 1),
    )
    is_output: bool = _param("", "1: emit the readout x, no encoder", _flag, real=False, flag=True)
    per_synapse: bool = _param(
        "", "1: per-synapse bucket weights (transposed cascade)", _flag, real=False, flag=True
    )
    frac_bits: int = _param(
        "", "this layer's state scale: value * 2**frac_bits", _exponent, dynamics=False
    )
    weight_exp: int = _param(
        "", "synaptic weight value = weight * 2**-weight_exp", _exponent, dynamics=False
    )
    copy_exp: np.ndarray | None = _param(
        "K",
        "per-synapse layers: weight copy k is stored 2**copy_exp[k] finer than weight_exp, and "
        "its drive shifts by drive_exp - copy_exp[k] (None: 0, one grid for all copies)",
        lambda s: (0, 62),
        real=False,
        optional=True,
        default=None,
    )

    @classmethod
    def uniform(
        cls, K: int, channels: int, decay: int = 2048, per_synapse: bool = False, **fields: Any
    ) -> GammaParams:
        """K equal decays, zero bucket weights, biases and exponents, theta0 = 1: a layer's
        neuron for counting resources or building a network by hand; ``fields`` override."""
        values: dict[str, Any] = {
            "decay": np.full(K, decay),
            "bucket_weight": None if per_synapse else np.zeros((K, channels), dtype=np.int64),
            "bucket_weight_exp": 0,
            "bias": np.zeros(channels, dtype=np.int64),
            "drive_exp": 0,
            "theta0": 1,
            "mf": 0,
            "decay_out": 0,
            "is_output": False,
            "per_synapse": per_synapse,
            "frac_bits": 12,
            "weight_exp": 0,
        }
        return cls(**{**values, **fields})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GammaParams):
            return NotImplemented
        return all(values_equal(u, getattr(other, name)) for name, _, u in self.items())

    @property
    def K(self) -> int:
        """Buckets per neuron."""
        return int(len(self.decay))

    @property
    def channels(self) -> int:
        return int(np.asarray(self.bias).shape[0])

    def expected_shape(self, info: ParamInfo) -> tuple[int, ...]:
        """The shape a parameter of ``info.shape`` must have in this layer."""
        return {"": (), "K": (self.K,), "KC": (self.K, self.channels), "C": (self.channels,)}[
            info.shape
        ]

    def drive_shifts(self) -> np.ndarray:
        """The shift from each bucket's synaptic sum to state units, (K,): ``drive_exp`` less
        the copy's ``copy_exp`` (per-neuron layers drive bucket 0 alone, with ``drive_exp``)."""
        copy = np.zeros(self.K, dtype=np.int64) if self.copy_exp is None else self.copy_exp
        return int(self.drive_exp) - np.asarray(copy, dtype=np.int64)

    def words(self, *shapes: str) -> int:
        """Stored words of the parameters the dynamics read whose shape is one of ``shapes``."""
        return sum(
            int(np.prod(self.expected_shape(info)))
            for _, info, value in self.items()
            if info.dynamics and info.shape in shapes and value is not None
        )

    def items(self) -> Iterator[tuple[str, ParamInfo, Any]]:
        """``(name, info, value)`` of every parameter, in declaration order."""
        for f in fields(self):
            yield f.name, f.metadata["info"], getattr(self, f.name)

    def problems(self, spec: FixedPointSpec) -> list[str]:
        """Every parameter whose shape, integrality or range is wrong (empty when valid)."""
        out = []
        for name, info, value in self.items():
            if value is None:
                if not info.optional:
                    out.append(f"{name} is missing")
                continue
            arr = np.asarray(value)
            lo, hi = info.bounds(spec)
            if arr.shape != self.expected_shape(info):
                out.append(f"{name} must have shape {self.expected_shape(info)}, has {arr.shape}")
            elif arr.size and (arr.min() < lo or arr.max() > hi):
                out.append(f"{name} must lie in [{lo}, {hi}]")
        return out


def param_infos() -> Iterator[tuple[str, ParamInfo]]:
    """``(name, info)`` of every parameter, without an instance (Process and model types)."""
    for f in fields(GammaParams):
        yield f.name, f.metadata["info"]
