"""Commands that run Lava from ``net.h5`` alone, torch-free: ``run`` and ``smoke``."""

from __future__ import annotations

import argparse

from sg_lava.cli.base import warn_timing
from sg_lava.processes import BACKENDS


def run(args: argparse.Namespace) -> int:
    """Torch-free: the file, the inputs and Lava."""
    import numpy as np

    from sg_lava.export import hdf5
    from sg_lava.files import check_destination
    from sg_lava.inputs import load_input_array
    from sg_lava.processes.runner import encode_inputs, run_samples, save_outputs

    inputs = [args.net, args.input]
    check_destination(args.out, inputs)
    qnet = hdf5.read(args.net)
    warn_timing(qnet, args.net)
    neurons = sum(L.n_neurons for L in qnet.layers)
    x = load_input_array(args.input, qnet.input_shape, qnet.input_limit(), neurons)
    outs = run_samples(qnet, encode_inputs(qnet, x, args.backend), args.backend)
    save_outputs(args.out, qnet, outs, inputs)
    print(
        f"ran {x.shape[0]} sample(s) x {x.shape[1]} steps on Lava ({args.backend}); "
        f"output lags {qnet.latency} steps"
    )
    for i, a in enumerate(outs):
        print(f"layer_{i}: shape {a.shape}, {np.count_nonzero(a)} non-zero")
    print(f"wrote {args.out}")
    return 0


def smoke(args: argparse.Namespace) -> int:
    from sg_lava.processes.smoke import main

    return main()


def register(sub) -> None:
    sm = sub.add_parser("smoke", help="run a tiny fixed-point Lava network (install check)")
    sm.set_defaults(func=smoke)
    rn = sub.add_parser("run", help="run net.h5 on Lava's CPU backend")
    rn.add_argument("net", help="network file (net.h5)")
    rn.add_argument("--input", required=True, help=".npy of (batch, T, *input_shape)")
    rn.add_argument("--out", required=True, help=".npz to write, one array per layer")
    rn.add_argument("--backend", choices=BACKENDS, default="fixed")
    rn.set_defaults(func=run)
