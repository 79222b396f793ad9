"""A tiny Lava run that proves the installation works (no torch involved).

A ring-buffer source drives one netx ``Dense`` block of Lava's own ``SigmaDelta`` neurons
on ``Loihi2SimCfg(select_tag='fixed_pt')``; the graded output spikes are collected by a
sink. Used by ``sg-lava smoke`` and the installation tests.
"""

from __future__ import annotations

import numpy as np

import sg_lava  # noqa: F401  (installs the Lava compat hooks first)


def run_sigma_delta_dense(
    x: np.ndarray, weight: np.ndarray, vth: int, bias: np.ndarray | None = None
) -> np.ndarray:
    """Run ``x`` (inputs, steps) through a netx Dense block of SigmaDelta neurons.

    Returns the graded output spikes, shape (outputs, steps), integer.
    """
    from lava.lib.dl.netx.blocks.process import Dense
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.sdn.process import SigmaDelta

    n_out, steps = weight.shape[0], x.shape[1]
    params = {"neuron_proc": SigmaDelta, "vth": vth, "num_message_bits": 16}
    kwargs = {} if bias is None else {"bias": np.asarray(bias)}
    block = Dense(
        shape=(n_out,),
        neuron_params=params,
        weight=np.asarray(weight),
        input_message_bits=16,
        **kwargs,
    )
    source = Source(data=np.asarray(x, dtype=np.int32))
    sink = Sink(shape=(n_out,), buffer=steps)
    source.s_out.connect(block.inp)
    block.out.connect(sink.a_in)
    try:
        source.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return np.asarray(sink.data.get(), dtype=np.int64)
    finally:
        source.stop()


def main() -> int:
    """Print what a minimal fixed-point Lava run produced."""
    x = np.array([[30, 10, 0, 0, 0]])
    weight = np.array([[2], [1]])
    out = run_sigma_delta_dense(x, weight, vth=40)
    print("Lava smoke run: RingBuffer -> netx Dense(1->2, SigmaDelta) on Loihi2SimCfg(fixed_pt)")
    print(f"input  : {x[0].tolist()}")
    for i, row in enumerate(out):
        print(f"neuron {i}: {row.tolist()}")
    return 0
