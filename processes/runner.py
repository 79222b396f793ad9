"""Run samples through a Lava network built from a network file (no torch).

The builder (:mod:`sg_lava.processes.builder`) makes one compiled network for a batch of
samples; this module feeds it the inputs in the backend's units, collects every layer's
outputs with a progress bar, and stops the runtime on errors, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import numpy as np

from sg_lava.export.qnet import QuantizedNetwork
from sg_lava.interrupts import stop_on_signals
from sg_lava.processes.builder import LavaNetwork


def encode_inputs(qnet: QuantizedNetwork, x: np.ndarray, backend: str) -> np.ndarray:
    """Real-valued inputs (B, T, *input_shape) in the units the backend's first synapse takes:
    integers for the fixed-point backends, the same scale as reals for ``float``."""
    if backend == "float":
        return np.asarray(x, dtype=np.float64) * 2.0**qnet.spec.input_frac_bits
    return qnet.quantize_input(x)


def run_samples(
    qnet: QuantizedNetwork, xs: np.ndarray, backend: str = "fixed", progress: bool = False
) -> list[np.ndarray]:
    """Run a batch of encoded samples (B, T, *input_shape); returns per layer (B, T, *shape)."""
    from tqdm import tqdm

    outs: list[list[np.ndarray]] = []
    with stop_on_signals(), LavaNetwork(qnet, xs, backend) as net:
        for res in tqdm(net, total=net.samples, desc="Lava", unit="sample", disable=not progress):
            outs.append(res)
    return [np.stack([o[i] for o in outs]) for i in range(len(qnet.layers))]
