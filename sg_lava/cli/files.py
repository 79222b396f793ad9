"""Commands that read ``net.h5`` alone (torch-free unless activity is asked for):
``inspect`` and ``plan``."""

from __future__ import annotations

import argparse

from sg_lava.cli.base import NON_NEGATIVE, POSITIVE, add_command, add_threads_option


def inspect(args: argparse.Namespace) -> int:
    from sg_lava.export import hdf5
    from sg_lava.export.summary import describe

    print(describe(hdf5.read(args.net)))
    return 0


def plan(args: argparse.Namespace) -> int:
    from sg_lava.export import hdf5
    from sg_lava.export.plan import format_plan, plan_network

    qnet = hdf5.read(args.net)
    result = plan_network(qnet)
    act = None
    if args.inputs or args.data or args.task is not None:
        from sg_lava.deploy.activity import activity_inputs, measure_activity

        x = activity_inputs(
            qnet, args.samples, args.inputs, args.data, args.task, args.seed, args.bins
        )
        act = measure_activity(qnet, x, result)
        result.activity = act.as_dict()
    if args.json:
        print(result.to_json())
        return 0
    print(format_plan(result))
    if act is not None:
        from sg_lava.deploy.activity import format_activity

        print()
        print(format_activity(act))
    return 0


def register(sub) -> None:
    ins = add_command(
        sub,
        "inspect",
        "summarise a network file: layers, sizes, fixed-point formats, provenance",
        "sg-lava inspect net.h5",
        "Reads and validates net.h5 alone (no torch) and prints its layers, neurons,\n"
        "synapses, fixed-point exponents, an estimate of Loihi 2 cores and where it came from.",
    )
    ins.add_argument("net", help="network file (net.h5)")
    ins.set_defaults(func=inspect)

    pl = add_command(
        sub,
        "plan",
        "Loihi 2 resources, cores and chips of net.h5; activity on inputs",
        "sg-lava plan net.h5\n"
        "sg-lava plan net.h5 --task delay\n"
        "sg-lava plan net.h5 --inputs x.npy --json\n"
        "sg-lava plan net.h5 --data DIR --bins 100",
        "Counts what each layer needs on Loihi 2 and places it on neuro cores (docs/loihi2.md).\n"
        "With inputs (--task, --inputs, --data) it also runs them through the exact integer\n"
        "reference and estimates synaptic operations, energy and time per inference.",
    )
    pl.add_argument("net", help="network file (net.h5)")
    source = pl.add_mutually_exclusive_group()
    source.add_argument("--inputs", default=None, help=".npy of (batch, T, *input_shape)")
    source.add_argument(
        "--task",
        nargs="?",
        const="",
        default=None,
        help="held-out inputs of a built-in task (default: the task the file records)",
    )
    source.add_argument(
        "--data", default=None, help="folder with test.npz (arrays x, y) or test.h5 (events)"
    )
    pl.add_argument(
        "--bins",
        type=POSITIVE,
        default=None,
        help="time steps per event sample of --data (default: the file's, when it records them)",
    )
    pl.add_argument("--samples", type=POSITIVE, default=32, help="samples to measure")
    pl.add_argument(
        "--seed",
        type=NON_NEGATIVE,
        default=None,
        help="seed the task was trained with (default: the file's)",
    )
    pl.add_argument("--json", action="store_true", help="print one JSON object")
    add_threads_option(pl)
    pl.set_defaults(func=plan)
