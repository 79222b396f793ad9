"""Commands that read ``net.h5`` alone (torch-free unless activity is asked for):
``inspect`` and ``plan``."""

from __future__ import annotations

import argparse

from sg_lava.cli.base import NON_NEGATIVE, POSITIVE


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

        x = activity_inputs(qnet, args.samples, args.inputs, args.data, args.task, args.seed)
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
    ins = sub.add_parser("inspect", help="summarise a network file")
    ins.add_argument("net", help="network file (net.h5)")
    ins.set_defaults(func=inspect)

    pl = sub.add_parser(
        "plan", help="Loihi 2 resources, cores and chips of net.h5; activity on inputs"
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
    source.add_argument("--data", default=None, help="folder with test.npz (arrays x and y)")
    pl.add_argument("--samples", type=POSITIVE, default=32, help="samples to measure (default 32)")
    pl.add_argument(
        "--seed", type=NON_NEGATIVE, default=None, help="seed the task was trained with"
    )
    pl.add_argument("--json", action="store_true", help="print one JSON object")
    pl.set_defaults(func=plan)
