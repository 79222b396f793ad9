"""``GammaNeuron``: a layer of SpikingGamma neurons as a Lava Process.

Ports follow Lava's neuron convention (``a_in``, ``s_out``) so the Process drops into netx
blocks through ``neuron_params={'neuron_proc': GammaNeuron, ...}``. Shapes are Lava's
(WHC for conv layers). ``shape`` is the shape of ``a_in``, i.e. of the synapse's output;
with per-synapse bucket weights the synapse delivers K drives per neuron, stacked on the
last axis (index ``k * C + c``), and the neurons — and ``s_out`` — have ``C = shape[-1] / K``
channels there.

Its parameter Vars are the fields of :class:`~sg_lava.export.neuron.GammaParams`, one Var
each, plus the bit widths the dynamics read; the ``fixed_pt`` model uses them as the integers
of ``docs/fixed_point.md``, the ``floating_pt`` model reads them as real numbers.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

from sg_lava.export.neuron import DYNAMICS_WIDTHS, GammaParams, ParamInfo

STATE_VARS = ("buckets", "estimate", "y_prev")  # zeroed at every sample boundary
CONTROL_VARS = (*DYNAMICS_WIDTHS, "reset_interval")


def neuron_shape(shape: tuple[int, ...], K: int, per_synapse: bool) -> tuple[int, ...]:
    """Shape of the neurons (and ``s_out``) given the shape of ``a_in``."""
    shape = tuple(int(n) for n in shape)
    if not per_synapse:
        return shape
    if shape[-1] % K:
        raise ValueError(f"per-synapse a_in last axis {shape[-1]} is not a multiple of K={K}")
    return (*shape[:-1], shape[-1] // K)


def _var_init(info: ParamInfo, value, params: GammaParams, neurons: tuple[int, ...]) -> np.ndarray:
    """A parameter as its Var's initial value: scalars as (1,), per-channel ones broadcast."""
    if value is None:  # an absent optional parameter: zeros (bucket_weight: unused; copy_exp: 0)
        return np.zeros(params.expected_shape(info), dtype=np.int64)
    if not info.shape:
        return np.array([int(value)])
    if info.shape == "C":
        return np.broadcast_to(np.asarray(value), neurons).copy()
    return np.asarray(value)


class GammaNeuron(AbstractProcess):
    """K gamma buckets per neuron, a ReLU readout and an adaptive-threshold sigma-delta
    encoder with graded spikes (or, for the output layer, the readout itself).

    Keyword arguments: ``shape`` (of ``a_in``), every field of ``GammaParams`` by name, the
    widths ``state_bits``, ``decay_bits``, ``mf_bits`` and ``reset_interval``.

    ``reset_interval`` R > 0 runs samples of R steps back to back: at steps 1, R+1, 2R+1, ...
    the neuron starts from zero state and ignores ``a_in`` (which then carries the previous
    sample's last synaptic sum), exactly as a freshly built network would — so samples
    need neither a rebuild nor any Var traffic between them.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        state_bits: int = 24,
        decay_bits: int = 12,
        mf_bits: int = 12,
        reset_interval: int = 0,
        name: str | None = None,
        log_config=None,
        **params,
    ) -> None:
        p = GammaParams(**params)
        neurons = neuron_shape(shape, p.K, p.per_synapse)
        super().__init__(shape=tuple(shape), name=name, log_config=log_config)
        self.a_in = InPort(shape=tuple(int(n) for n in shape))
        self.s_out = OutPort(shape=neurons)
        self.buckets = Var(shape=(p.K, *neurons), init=0)
        self.estimate = Var(shape=neurons, init=0)
        self.y_prev = Var(shape=neurons, init=0)
        for key, info, value in p.items():
            init = _var_init(info, value, p, neurons)
            setattr(self, key, Var(shape=init.shape, init=init))
        controls = dict(zip(CONTROL_VARS, (state_bits, decay_bits, mf_bits, reset_interval)))
        for key, value in controls.items():
            setattr(self, key, Var(shape=(1,), init=np.array([value])))
