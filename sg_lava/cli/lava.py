"""Commands that run Lava from ``net.h5`` alone, torch-free: ``run`` and ``smoke``."""

from __future__ import annotations

import argparse

from sg_lava.cli.base import add_command, warn_timing
from sg_lava.processes import BACKENDS


def run(args: argparse.Namespace) -> int:
    """Torch-free: the file, the inputs and Lava."""
    import numpy as np

    from sg_lava.export import hdf5
    from sg_lava.export.inputs import load_input_array, load_lengths
    from sg_lava.files import check_destination
    from sg_lava.processes.runner import encode_inputs, readout_of, run_samples, save_outputs

    inputs = [p for p in (args.net, args.input, args.lengths) if p]
    check_destination(args.out, inputs)
    qnet = hdf5.read(args.net)
    warn_timing(qnet, args.net)
    neurons = sum(L.n_neurons for L in qnet.layers)
    x = load_input_array(args.input, qnet.input_shape, qnet.input_limit(), neurons)
    lengths = load_lengths(args.lengths, *x.shape[:2]) if args.lengths else None
    # the input padded by the latency, so that the last step's effect reaches the output
    padded = np.concatenate([x, np.zeros((x.shape[0], qnet.latency, *x.shape[2:]))], 1)
    outs = run_samples(qnet, encode_inputs(qnet, padded, args.backend), args.backend)
    classes = readout_of(qnet, outs, lengths)
    save_outputs(args.out, qnet, outs, inputs, classes)
    print(
        f"ran {x.shape[0]} sample(s) x {x.shape[1]} steps (+{qnet.latency} for the output's "
        f"lag) on Lava ({args.backend})"
    )
    for i, a in enumerate(outs):
        print(f"layer_{i}: shape {a.shape}, {np.count_nonzero(a)} non-zero")
    if classes:
        counts = np.bincount(classes["predictions"], minlength=qnet.layers[-1].shape[0])
        print(f"predictions (readout {qnet.readout!r}): samples per class {counts.tolist()}")
        if args.print:
            for i, c in enumerate(classes["predictions"].tolist()):
                print(f"sample {i}: class {c}")
    else:
        print(
            f"no predictions: the file's readout is {qnet.readout or 'not recorded'!s} "
            "(a task's own window); read 'output' yourself"
        )
    print(f"wrote {args.out}")
    return 0


def smoke(args: argparse.Namespace) -> int:
    from sg_lava.processes.smoke import main

    return main()


def register(sub) -> None:
    sm = add_command(
        sub,
        "smoke",
        "run a tiny fixed-point Lava network (install check)",
        "sg-lava smoke",
        "Runs a small netx Dense block of Lava's own SigmaDelta neurons on Loihi2SimCfg\n"
        "(fixed_pt), no torch involved, and prints its graded spikes: when it runs, Lava is\n"
        "installed and works here.",
    )
    sm.set_defaults(func=smoke)
    rn = add_command(
        sub,
        "run",
        "run net.h5 on Lava's CPU backend on your inputs",
        "sg-lava run net.h5 --input x.npy --out spikes.npz",
        "Torch-free: reads net.h5 and an array x.npy of (batch, T, *input_shape) real inputs,\n"
        "runs them on Lava and writes every layer's outputs and, where the file's readout\n"
        "window allows, each sample's predicted class to --out (docs/format.md).",
    )
    rn.add_argument("net", help="network file (net.h5)")
    rn.add_argument("--input", required=True, help=".npy of (batch, T, *input_shape)")
    rn.add_argument("--out", required=True, help=".npz to write, one array per layer")
    rn.add_argument(
        "--lengths", default=None, help=".npy of (batch,) each sample's own length (default: T)"
    )
    rn.add_argument(
        "--backend",
        choices=BACKENDS,
        default="fixed",
        help="fixed: bit-accurate fixed_pt; float: floating_pt; loihi2: the chip (lava-loihi)",
    )
    rn.add_argument("--print", action="store_true", help="print each sample's predicted class")
    rn.set_defaults(func=run)
