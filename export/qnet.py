"""The quantised network: the integer model that the HDF5 file stores (numpy only).

This is the in-memory form of ``net.h5``. The torch quantiser (``sg_lava.reference.quantize``)
produces it, the writer and reader (:mod:`sg_lava.export.hdf5`) move it to and from
disk, and both the batched fixed-point reference (``sg_lava.reference.fixed``) and the Lava
network builder (``sg_lava.processes``) run it. The integer semantics of every field are
specified in ``docs/fixed_point.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sg_lava.export import TIMINGS  # noqa: F401  (defined numpy-free for the CLI's parser)
from sg_lava.export.encoding import encode
from sg_lava.export.neuron import GammaParams

MESSAGE_BITS = 24  # graded spike payloads on Lava (num_message_bits)
MAX_MESSAGE = (1 << (MESSAGE_BITS - 1)) - 1  # the largest signed payload: |input| at scale 0

# Size limits checked before anything is allocated (files, configs, inputs; docs/reliability.md)
MAX_K = 1024  # buckets per neuron
MAX_NEURONS = 1 << 22  # neurons of one layer
MAX_WEIGHTS = 1 << 26  # stored synaptic weights of one layer
MAX_LAYERS = 256


def latency(n_layers: int, timing: str) -> int:
    """Steps by which a network's output lags the equations: one per synapse in Lava timing."""
    return n_layers if timing == "lava" else 0


def conv_output_hw(
    in_hw: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[int, int]:
    """Output height and width of a 2-D convolution (PyTorch's formula)."""
    return tuple(  # type: ignore[return-value]
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(in_hw, kernel, stride, padding, dilation)
    )


@dataclass(frozen=True)
class FixedPointSpec:
    """Bit widths of the integer model (Loihi 2 defaults)."""

    state_bits: int = 24  # buckets, readout, estimate, threshold, drive: signed
    decay_bits: int = 12  # alpha_k as a fraction of 2**decay_bits
    weight_bits: int = 8  # signed synaptic weight mantissa (stored doubled, as netx does)
    bucket_weight_bits: int = 12  # signed per-neuron bucket weight mantissa
    mf_bits: int = 12  # m_f as a fraction of 2**mf_bits
    state_frac_bits: int = (
        12  # default scale: a state v is round(v * 2**bits); calibration picks per layer
    )
    input_frac_bits: int = 0  # network input x is fed as round(x * 2**input_frac_bits)
    sum_bits: int = 32  # dense synaptic sums must fit (Lava's Dense sums in int32)

    def as_dict(self) -> dict[str, int]:
        return {k: int(getattr(self, k)) for k in self.__dataclass_fields__}

    def problems(self) -> list[str]:
        """Every width outside :data:`WIDTH_RANGES` (empty when valid)."""
        out = []
        for key, (lo, hi) in WIDTH_RANGES.items():
            v = getattr(self, key)
            if not lo <= v <= hi:
                out.append(f"fixed_point/{key} must lie in [{lo}, {hi}], is {v}")
        return out


# Valid range of every FixedPointSpec width: int64 arithmetic and Lava's int32 sums hold.
WIDTH_RANGES = {
    "state_bits": (2, 32),
    "decay_bits": (1, 24),
    "weight_bits": (2, 16),
    "bucket_weight_bits": (2, 24),
    "mf_bits": (1, 24),
    "state_frac_bits": (0, 31),
    "input_frac_bits": (0, MESSAGE_BITS - 1),
    "sum_bits": (8, 32),
}


@dataclass
class QuantLayer:
    """One layer of gamma neurons with its synapse, all parameters integer."""

    kind: str  # 'dense' or 'conv'
    in_shape: tuple[int, ...]  # what the synapse receives, PyTorch order
    shape: tuple[int, ...]  # neurons, PyTorch order: (N,) or (C, H, W)
    weight: np.ndarray  # even integers; (out, in[, kH, kW]) or (K, out, in[, kH, kW])
    neuron: GammaParams
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    flatten_from: tuple[int, ...] | None = None  # dense fed by a (C, H, W) layer

    @property
    def K(self) -> int:
        return self.neuron.K

    @property
    def is_output(self) -> bool:
        return bool(self.neuron.is_output)

    @property
    def per_synapse(self) -> bool:
        return bool(self.neuron.per_synapse)

    @property
    def frac_bits(self) -> int:
        return int(self.neuron.frac_bits)

    @property
    def kernel_size(self) -> tuple[int, int]:
        return tuple(int(n) for n in self.weight.shape[-2:])  # type: ignore[return-value]

    @property
    def n_neurons(self) -> int:
        return int(np.prod(self.shape))

    @property
    def n_synapses(self) -> int:
        """Stored synaptic weights (per-synapse variants count each of the K copies)."""
        return int(self.weight.size)


@dataclass
class QuantizedNetwork:
    """A whole network in integers, plus what is needed to read its output."""

    input_shape: tuple[int, ...]
    layers: list[QuantLayer]
    spec: FixedPointSpec = field(default_factory=FixedPointSpec)
    timing: str = "lava"
    meta: dict = field(default_factory=dict)  # provenance, free-form strings
    # the readout window (sg_lava.export.readout); None: not recorded (files before 0.2)
    readout: str | float | None = None
    # the input encoder (sg_lava.export.encoding): theta at the input scale, m_f a fraction
    # of 2**mf_bits; the code's decay is the first layer's first-bucket decay
    input_encoding: str = "direct"
    input_theta: int = 0
    input_mf: int = 0

    @property
    def latency(self) -> int:
        return latency(len(self.layers), self.timing)

    def input_limit(self) -> float:
        """Largest |x| of a real input whose integer fits the first synapse's messages."""
        return MAX_MESSAGE / 2.0**self.spec.input_frac_bits

    def encode_input(self, q: np.ndarray) -> np.ndarray:
        """The integer payloads the first synapse receives for the quantised inputs ``q``
        (:meth:`quantize_input`): the input encoder, run on the host."""
        return encode(
            q,
            self.input_encoding,
            self.input_theta,
            self.input_mf,
            int(self.layers[0].neuron.decay[0]),
            integer=True,
            decay_bits=self.spec.decay_bits,
            mf_bits=self.spec.mf_bits,
        )

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Network input as the integers the first synapse receives."""
        return np.round(np.asarray(x, dtype=np.float64) * 2.0**self.spec.input_frac_bits).astype(
            np.int64
        )
