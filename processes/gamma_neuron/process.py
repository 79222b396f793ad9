"""``GammaNeuron``: a layer of SpikingGamma neurons as a Lava Process.

Ports follow Lava's neuron convention (``a_in``, ``s_out``) so the Process drops into netx
blocks through ``neuron_params={'neuron_proc': GammaNeuron, ...}``. Shapes are Lava's
(WHC for conv layers). ``shape`` is the shape of ``a_in``, i.e. of the synapse's output;
with per-synapse bucket weights the synapse delivers K drives per neuron, stacked on the
last axis (index ``k * C + c``), and the neurons — and ``s_out`` — have ``C = shape[-1] / K``
channels there.

Parameters are the integers of ``docs/fixed_point.md`` (the ``fixed_pt`` model uses them
as they are); the ``floating_pt`` model reads the same Vars as real numbers (see
:func:`float_params`).
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


def neuron_shape(shape: tuple[int, ...], K: int, per_synapse: bool) -> tuple[int, ...]:
    """Shape of the neurons (and ``s_out``) given the shape of ``a_in``."""
    shape = tuple(int(n) for n in shape)
    if not per_synapse:
        return shape
    if shape[-1] % K:
        raise ValueError(f"per-synapse a_in last axis {shape[-1]} is not a multiple of K={K}")
    return (*shape[:-1], shape[-1] // K)


class GammaNeuron(AbstractProcess):
    """K gamma buckets per neuron, a ReLU readout and an adaptive-threshold sigma-delta
    encoder with graded spikes (or, for the output layer, the readout itself).

    Vars — state: ``buckets`` (K, *neurons), ``estimate``, ``y_prev``, ``sat_count``;
    parameters: ``decay`` (K,), ``bucket_weight`` (K, C), ``bias`` (neurons),
    ``drive_exp``, ``bucket_weight_exp``, ``theta0``, ``mf``, ``decay_out``, ``is_output``,
    ``per_synapse`` and the bit widths ``state_bits``, ``decay_bits``, ``mf_bits``.

    ``reset_interval`` R > 0 runs samples of R steps back to back: at steps 1, R+1, 2R+1, ...
    the neuron starts from zero state and ignores ``a_in`` (which then carries the previous
    sample's last synaptic sum), exactly as a freshly built network would — so samples
    need neither a rebuild nor any Var traffic between them.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        K: int,
        decay: np.ndarray,
        bucket_weight: np.ndarray | None = None,
        bucket_weight_exp: int = 0,
        bias: np.ndarray | int = 0,
        drive_exp: int = 0,
        theta0: int = 0,
        mf: int = 0,
        decay_out: int = 0,
        is_output: bool = False,
        per_synapse: bool = False,
        state_bits: int = 24,
        decay_bits: int = 12,
        mf_bits: int = 12,
        reset_interval: int = 0,
        name: str | None = None,
        log_config=None,
        **kwargs,
    ) -> None:
        K = int(K)
        neurons = neuron_shape(shape, K, per_synapse)
        channels = neurons[-1]
        decay = np.asarray(decay).reshape(K)
        if bucket_weight is None:
            bucket_weight = np.zeros((K, channels))
        bucket_weight = np.asarray(bucket_weight).reshape(K, channels)
        bias = np.broadcast_to(np.asarray(bias), neurons).copy()
        super().__init__(
            shape=tuple(shape), K=K, per_synapse=bool(per_synapse), name=name, log_config=log_config
        )
        self.a_in = InPort(shape=tuple(int(n) for n in shape))
        self.s_out = OutPort(shape=neurons)
        self.buckets = Var(shape=(K, *neurons), init=0)
        self.estimate = Var(shape=neurons, init=0)
        self.y_prev = Var(shape=neurons, init=0)
        self.sat_count = Var(shape=(1,), init=0)
        self.decay = Var(shape=(K,), init=decay)
        self.bucket_weight = Var(shape=(K, channels), init=bucket_weight)
        self.bias = Var(shape=neurons, init=bias)
        scalars = {
            "drive_exp": drive_exp,
            "bucket_weight_exp": bucket_weight_exp,
            "theta0": theta0,
            "mf": mf,
            "decay_out": decay_out,
            "is_output": int(bool(is_output)),
            "per_synapse": int(bool(per_synapse)),
            "state_bits": state_bits,
            "decay_bits": decay_bits,
            "mf_bits": mf_bits,
            "reset_interval": reset_interval,
        }
        for key, value in scalars.items():
            setattr(self, key, Var(shape=(1,), init=np.array([value])))

    @property
    def state_vars(self) -> tuple[Var, ...]:
        """The Vars that hold state between steps (set to 0 to reset a sample)."""
        return (self.buckets, self.estimate, self.y_prev)
