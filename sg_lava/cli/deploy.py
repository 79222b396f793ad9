"""The deployment commands: ``export`` (= ``sg-export``), ``verify``, ``evaluate``, ``demo``."""

from __future__ import annotations

import argparse
import os
import sys

from sg_lava.cli.base import NON_NEGATIVE, POSITIVE, warn_timing, workers
from sg_lava.errors import UserError
from sg_lava.processes import BACKENDS

DEVICES = ("auto", "cpu", "cuda")  # where the integer reference runs (sg_lava.devices)


def add_export_args(p: argparse.ArgumentParser) -> None:
    """``sg-export``'s arguments (also ``sg-lava export``)."""
    p.add_argument("model", help="trained model file (model.pt)")
    p.add_argument("out", help="network file to write (net.h5)")
    p.add_argument(
        "--allow-saturation",
        action="store_true",
        help="write the file even if quantisation clips or saturates more than 0.1%%",
    )
    p.set_defaults(func=export)


def export(args: argparse.Namespace) -> int:
    from sg_lava.files import check_destination

    check_destination(args.out, [args.model])  # before quantising
    from sg_lava.deploy.pipeline import Pipeline

    res = Pipeline(args.model).export(args.out, allow_saturation=args.allow_saturation)
    print(res.table())
    n = sum(L.n_synapses for L in res.qnet.layers)
    print(f"wrote {args.out}: {len(res.qnet.layers)} layers, {n} synaptic weights")
    return 0


def verify(args: argparse.Namespace) -> int:
    from sg_lava.files import check_destination

    inputs = [args.model, args.net, args.input]
    if args.plot:
        check_destination(args.plot, inputs)
    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.deploy.verify import plot_rasters
    from sg_lava.export import hdf5
    from sg_lava.processes.runner import default_workers

    pipe = Pipeline(args.model)
    qfile = hdf5.read(args.net)
    warn_timing(qfile, args.net)
    x = pipe.verification_inputs(args.samples, args.steps, args.input)
    workers = default_workers() if args.workers is None else args.workers
    res = pipe.verify(qfile, x, args.backend, progress=sys.stderr.isatty(), workers=workers)
    print(res.table())
    for problem in res.parameter_mismatches:
        print(f"parameter differs between model and file: {problem}")
    if args.plot:
        plot_rasters(res, args.plot, inputs=inputs)
        print(f"raster plot: {args.plot}")
    print(res.summary_line())
    return 0 if res.ok else 1


def evaluate(args: argparse.Namespace) -> int:
    import json

    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.export import hdf5

    pipe = Pipeline(args.model, args.device)
    qfile = hdf5.read(args.net)
    pipe.check_file(qfile, args.net)
    data = pipe.task_data(args.task, args.data)
    res = pipe.evaluate(qfile, data, progress=sys.stderr.isatty())
    print(json.dumps(res.as_dict()) if args.json else res.text())
    return 0


def demo(args: argparse.Namespace) -> int:
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} exists and is not a folder")
    from sg_lava.deploy.demo import run_demo

    return run_demo(
        args.out,
        epochs=args.epochs,
        seed=args.seed,
        lava_samples=args.lava_samples,
        progress=not args.quiet,
    )


def register(sub) -> None:
    add_export_args(
        sub.add_parser("export", help="quantise a model and write net.h5 (= sg-export)")
    )
    ver = sub.add_parser("verify", help="check the Lava run against the model, spike for spike")
    ver.add_argument("model", help="trained model file (model.pt)")
    ver.add_argument("net", help="network file (net.h5)")
    ver.add_argument(
        "--samples", type=POSITIVE, default=4, help="held-out samples of the model's task"
    )
    ver.add_argument("--steps", type=POSITIVE, default=None, help="time steps per sample")
    ver.add_argument("--input", default=None, help=".npy inputs instead of the task's")
    ver.add_argument("--plot", default=None, help="write both rasters and the mismatches here")
    ver.add_argument("--backend", choices=BACKENDS, default="fixed")
    ver.add_argument(
        "--workers",
        type=workers(1),
        default=None,
        help="Lava runtimes in separate processes, each on a shard of the samples, at most "
        "the cores (default: one per 2 cores, since one runtime keeps about 2 cores busy)",
    )
    ver.set_defaults(func=verify)

    ev = sub.add_parser(
        "evaluate", help="accuracy of the model and of net.h5's integers on a whole test set"
    )
    ev.add_argument("model", help="trained model file (model.pt)")
    ev.add_argument("net", help="network file (net.h5)")
    src = ev.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", help="the built-in task the model was trained on (its test split)")
    src.add_argument("--data", help="folder with test.npz (arrays x, y)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--device", choices=DEVICES, default="auto", help="where the reference runs")
    ev.set_defaults(func=evaluate)

    dm = sub.add_parser("demo", help="train, export, run on Lava and verify (the main job)")
    dm.add_argument("--out", default="demo_out", help="folder for every file it writes")
    dm.add_argument("--epochs", type=POSITIVE, default=None)
    dm.add_argument("--seed", type=NON_NEGATIVE, default=0)
    dm.add_argument("--lava-samples", type=POSITIVE, default=150, help="test samples run on Lava")
    dm.add_argument("--quiet", action="store_true", help="no progress bars")
    dm.set_defaults(func=demo)
