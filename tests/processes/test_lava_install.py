"""Lava itself runs here: a LIF network and a netx block, checked against hand arithmetic."""

from __future__ import annotations

import numpy as np

from sg_lava.processes.smoke import run_sigma_delta_dense


def test_lif_network_voltages_by_hand():
    """Source -> Dense(w=10) -> LIF(du=4095, dv=2048, vth=10), fixed point.

    Bit-accurate LIF: u = u*(4096-(du+1))>>12 + a_in<<6 (du=4095 forgets u each step),
    v = v*(4096-dv)>>12 + u (dv=2048 halves v), spike when v > vth<<6 = 640, then v = 0.
    Dense delivers one step late, so input spikes at steps 1 and 3 arrive at 2 and 4:
      t=1: v=0; t=2: u=640, v=640 (not > 640); t=3: u=0, v=320;
      t=4: u=640, v=160+640=800 > 640 -> spike, v=0; t=5: v=0.
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF

    source = RingBuffer(data=np.array([[1, 0, 1, 0, 0]], dtype=np.int32))
    dense = Dense(weights=np.array([[10]]))
    lif = LIF(shape=(1,), du=4095, dv=2048, vth=10, bias_mant=0)
    source.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    v, u = [], []
    try:
        for _ in range(5):
            lif.run(condition=RunSteps(num_steps=1), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            v.append(int(lif.v.get()[0]))
            u.append(int(lif.u.get()[0]))
    finally:
        lif.stop()
    assert u == [0, 640, 0, 640, 0]
    assert v == [0, 640, 320, 0, 0]


def test_netx_dense_block_with_sigma_delta_by_hand():
    """netx Dense block, Lava SigmaDelta neurons (vth=40, no exponents), graded input.

    sigma += a_in; act = relu(sigma); delta = act - act_prev + residue;
    spike delta if |delta| >= vth; residue = delta - spike. Inputs 30, 10 at t=1, 2,
    weights (2, 1), arriving one step late:
      n0: t2 sigma=60 -> spike 60; t3 sigma=80, delta=20 -> residue 20; then silent.
      n1: t2 sigma=30 -> residue 30; t3 sigma=40, delta=10+30=40 -> spike 40.
    """
    out = run_sigma_delta_dense(np.array([[30, 10, 0, 0, 0]]), np.array([[2], [1]]), vth=40)
    np.testing.assert_array_equal(out, [[0, 60, 0, 0, 0], [0, 0, 40, 0, 0]])


def test_smoke_cli_prints_what_it_ran(capsys):
    from sg_lava.cli import main

    assert main(["smoke"]) == 0
    out = capsys.readouterr().out
    assert "Loihi2SimCfg(fixed_pt)" in out and "neuron 0: [0, 60, 0, 0, 0]" in out
