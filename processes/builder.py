"""Build a Lava network of GammaNeurons from a quantised network (no torch).

:class:`LavaNetwork` turns a :class:`~sg_lava.export.qnet.QuantizedNetwork` into Lava
Processes: an ``io.source.RingBuffer`` for the input, one netx ``Dense`` or ``Conv`` block
per layer carrying :class:`GammaNeuron` through ``neuron_params``, and an
``io.extractor.Extractor`` on every block's output. It compiles once and runs any number of
samples: the neurons reset themselves at every sample boundary (their state to 0, and
the synapse buffer's leftover ignored), so nothing is recompiled and no Var is written.
The Lava runtime is always stopped — on errors and Ctrl-C too — when the object is closed
(use it as a context manager). Running many samples with a progress bar is
:mod:`sg_lava.processes.runner`'s job.

Backends: ``fixed`` — netx blocks and the bit-accurate ``fixed_pt`` models on
``Loihi2SimCfg``; ``float`` — Lava's own ``Dense``/``Conv`` synapses and the
``floating_pt`` models (netx blocks are fixed-point only); ``loihi2`` — ``Loihi2HwCfg``,
which needs Intel's lava-loihi extension.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

import sg_lava  # noqa: F401  (Lava compat hooks first)
from sg_lava.errors import UserError
from sg_lava.export.neuron import DYNAMICS_WIDTHS
from sg_lava.export.plan import require_placeable
from sg_lava.export.qnet import MESSAGE_BITS, QuantizedNetwork, QuantLayer
from sg_lava.interrupts import child_pids, guard_children, kill_children
from sg_lava.processes import BACKENDS
from sg_lava.processes.gamma_neuron.process import GammaNeuron
from sg_lava.processes.layout import from_lava, lava_shape, synapse_shape, synapse_weight, to_lava


def lava_loihi_available() -> bool:
    """Whether Intel's proprietary lava-loihi extension (needed for boards) is installed."""
    try:
        return importlib.util.find_spec("lava.utils.loihi2_profiler") is not None
    except (ImportError, ValueError):
        return False


def neuron_params(layer: QuantLayer, qnet: QuantizedNetwork) -> dict:
    """``neuron_params`` for a netx block: the GammaNeuron Process and its parameters."""
    spec = qnet.spec
    return {
        "neuron_proc": GammaNeuron,
        "num_message_bits": MESSAGE_BITS,
        **{name: value for name, _, value in layer.neuron.items()},
        **{width: getattr(spec, width) for width in DYNAMICS_WIDTHS},
    }


@dataclass
class _Layer:
    block: object  # netx block (fixed) or None (float)
    neuron: GammaNeuron
    synapse: object
    extractor: object
    out_port: object


class LavaNetwork:
    """A Lava network of GammaNeurons that runs a batch of samples, compiled once.

    All samples go into the source's ring buffer at construction (one transfer at compile
    time rather than a slow ``Var.set`` per sample); the neurons reset themselves at every
    sample boundary (``reset_interval``); every layer's output leaves through an
    ``Extractor`` pipe, a numpy array per step. Use as a context manager, or call
    :meth:`close`, so the Lava runtime is always stopped.
    """

    def __init__(self, qnet: QuantizedNetwork, inputs: np.ndarray, backend: str = "fixed") -> None:
        if backend not in BACKENDS:
            raise UserError(f"backend must be one of {', '.join(BACKENDS)}")
        if backend == "loihi2":  # an unplaceable network is refused before any compilation
            require_placeable(qnet)
        if backend == "loihi2" and not lava_loihi_available():
            raise UserError(
                "backend loihi2 needs Intel's lava-loihi extension (Loihi2HwCfg), which is not "
                "installed; the fixed backend (Loihi2SimCfg, fixed_pt) is its bit-accurate stand-in"
            )
        inputs = np.asarray(inputs)
        if inputs.ndim != len(qnet.input_shape) + 2 or tuple(inputs.shape[2:]) != tuple(
            qnet.input_shape
        ):
            raise UserError(
                f"inputs have shape {inputs.shape}; the network expects (samples, T, "
                f"{', '.join(str(n) for n in qnet.input_shape)})"
            )
        self.qnet, self.backend = qnet, backend
        self.samples, self.steps = int(inputs.shape[0]), int(inputs.shape[1])
        self._running = False
        self._done = 0
        self._build(inputs)

    # -- construction ---------------------------------------------------------------------
    def _build(self, inputs: np.ndarray) -> None:
        from lava.proc.io.extractor import Extractor
        from lava.proc.io.source import RingBuffer as Source

        dtype = float if self.backend == "float" else np.int32
        data = np.concatenate([to_lava(x) for x in inputs], axis=-1).astype(dtype)
        self.source = Source(data=data)
        prev_port = self.source.s_out
        self.layers: list[_Layer] = []
        for layer in self.qnet.layers:
            if layer.flatten_from is not None:
                prev_port = prev_port.transpose([2, 1, 0]).flatten()
            built = (
                self._fixed_layer(layer) if self.backend != "float" else self._float_layer(layer)
            )
            prev_port.connect(built[0])
            block, neuron, synapse, out_port = built[1:]
            extractor = Extractor(shape=out_port.shape, buffer_size=self.steps + 1)
            out_port.connect(extractor.in_port)
            self.layers.append(_Layer(block, neuron, synapse, extractor, out_port))
            prev_port = out_port

    def _params(self, layer: QuantLayer) -> dict:
        return {**neuron_params(layer, self.qnet), "reset_interval": self.steps}

    def _fixed_layer(self, layer: QuantLayer):
        from lava.lib.dl.netx.blocks.process import Conv, Dense

        params = self._params(layer)
        if layer.kind == "dense":
            block = Dense(
                shape=synapse_shape(layer),
                neuron_params=params,
                weight=synapse_weight(layer),
                num_weight_bits=self.qnet.spec.weight_bits,
                weight_exponent=0,
                input_message_bits=MESSAGE_BITS,
            )
        else:
            block = Conv(
                shape=synapse_shape(layer),
                input_shape=lava_shape(layer.in_shape),
                neuron_params=params,
                weight=synapse_weight(layer),
                stride=np.array(layer.stride[::-1]),
                padding=np.array(layer.padding[::-1]),
                dilation=np.array(layer.dilation[::-1]),
                groups=1,
                input_message_bits=MESSAGE_BITS,
            )
        return block.inp, block, block.neuron, block.synapse, block.out

    def _float_layer(self, layer: QuantLayer):
        from lava.proc.conv.process import Conv
        from lava.proc.dense.process import Dense

        params = self._params(layer)
        params.pop("num_message_bits")
        params.pop("neuron_proc")
        w = synapse_weight(layer).astype(float)
        if layer.kind == "dense":
            synapse = Dense(weights=w, num_message_bits=MESSAGE_BITS)
        else:
            synapse = Conv(
                weight=w,
                input_shape=lava_shape(layer.in_shape),
                stride=layer.stride[::-1],
                padding=layer.padding[::-1],
                dilation=layer.dilation[::-1],
                groups=1,
                num_message_bits=MESSAGE_BITS,
            )
        neuron = GammaNeuron(shape=synapse_shape(layer), **params)
        synapse.a_out.connect(neuron.a_in)
        return synapse.s_in, None, neuron, synapse, neuron.s_out

    # -- running --------------------------------------------------------------------------
    def _run_cfg(self):
        from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg
        from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel

        # Extractor's models carry no tag, which select_tag would otherwise reject
        models = {Extractor: PyLoihiExtractorModel}
        if self.backend == "loihi2":
            return Loihi2HwCfg(exception_proc_model_map=models)
        tag = "fixed_pt" if self.backend == "fixed" else "floating_pt"
        return Loihi2SimCfg(select_tag=tag, exception_proc_model_map=models)

    def __iter__(self) -> Iterator[list[np.ndarray]]:
        """Run every sample, yielding each layer's output (T, *shape), PyTorch order.

        Hidden layers give spike payloads, the output layer its readout, at Lava time steps
        1..T of each sample. All samples run in one non-blocking ``run``; the host drains
        the extractors as Lava steps, so the per-call overhead of ``run`` is paid once.
        """
        from lava.magma.core.run_conditions import RunSteps

        if self._done:
            raise UserError("this network's samples have run; build a new one")
        guard_children()  # Lava's children ignore Ctrl-C and die with this process
        self._children_before = child_pids()
        self._running = True
        total = self.samples * self.steps
        self.source.run(
            condition=RunSteps(num_steps=total, blocking=False), run_cfg=self._run_cfg()
        )
        for _ in range(self.samples):
            outs = []
            for lay in self.layers:
                steps = [np.asarray(lay.extractor.receive()) for _ in range(self.steps)]
                outs.append(from_lava(np.stack(steps, axis=-1)))
            self._done += 1
            yield outs
        self.source.wait()

    def close(self, abort: bool = False) -> None:
        """Stop the Lava runtime (idempotent).

        ``abort`` (an error or a signal interrupted the run): Lava's polite stop would wait
        for children that may be blocked on a full pipe, so they are killed at once and
        their shared memory unlinked instead.
        """
        if not self._running:
            return
        self._running = False
        if not abort:
            self.source.stop()
            return
        runtime = getattr(self.source, "runtime", None)
        infra = getattr(runtime, "_messaging_infrastructure", None)
        smm = getattr(infra, "smm", None)
        segments = list(getattr(smm, "_shared_memory_handles", None) or [])
        kill_children(child_pids() - self._children_before, segments)
        if runtime is not None:
            runtime._is_started = runtime._is_running = False
            try:
                runtime.stop()  # now only closes pipes and the manager's client side
            except Exception:
                pass

    def __enter__(self) -> LavaNetwork:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(abort=exc_type is not None)
