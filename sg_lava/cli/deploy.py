"""The deployment commands: ``export`` (= ``sg-export``), ``verify``, ``evaluate``, ``demo``."""

from __future__ import annotations

import argparse
import os
import sys

from sg_lava.cli.base import (
    NON_NEGATIVE,
    POSITIVE,
    add_command,
    add_threads_option,
    warn_timing,
    workers,
)
from sg_lava.errors import UserError
from sg_lava.processes import BACKENDS

DEVICES = ("auto", "cpu", "cuda")  # where the integer reference runs (sg_lava.devices)


EXPORT_SUMMARY = "quantise a trained model to Loihi 2 integers and write net.h5"
EXPORT_DESCRIPTION = """\
Quantises model.pt (weights, decays, thresholds; calibrated on the samples the model keeps or
its task's training inputs) and writes the netx-style HDF5 file that sg-lava run, verify,
inspect and plan read. Refuses when more than 0.1% of weights clip or of states saturate.
Missing folders of OUT are created."""
EXPORT_EXAMPLES = "sg-export model.pt net.h5\nsg-lava export model.pt out/net.h5 --allow-saturation"


def add_export_args(p: argparse.ArgumentParser) -> None:
    """``sg-export``'s arguments (also ``sg-lava export``)."""
    p.add_argument("model", help="trained model file (model.pt)")
    p.add_argument("out", help="network file to write (net.h5)")
    p.add_argument(
        "--allow-saturation",
        action="store_true",
        help="write the file even if quantisation clips or saturates more than 0.1%%",
    )
    add_threads_option(p)
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
    elif args.plot_sample:
        raise UserError("--plot-sample chooses the sample --plot draws: give --plot too")
    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.deploy.rasters import plot_rasters
    from sg_lava.export import hdf5
    from sg_lava.processes.runner import default_workers

    pipe = Pipeline(args.model)
    qfile = hdf5.read(args.net)
    warn_timing(qfile, args.net)
    x, window, labels = pipe.verification_data(args.samples, args.steps, args.input)
    if args.plot_sample >= x.shape[0]:
        raise UserError(f"--plot-sample {args.plot_sample}: there are {x.shape[0]} samples")
    workers = default_workers() if args.workers is None else args.workers
    res = pipe.verify(
        qfile,
        x,
        args.backend,
        progress=sys.stderr.isatty(),
        workers=workers,
        window=window,
        labels=labels,
    )
    print(res.table())
    for problem in res.parameter_mismatches:
        print(f"parameter differs between model and file: {problem}")
    if args.backend == "float":
        print(res.tolerance_line())
    if args.plot:
        plot_rasters(res, args.plot, sample=args.plot_sample, inputs=inputs)
        print(f"raster plot: {args.plot} (sample {args.plot_sample})")
    print(res.summary_line())
    return 0 if res.ok else 1


def evaluate(args: argparse.Namespace) -> int:
    import json

    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.export import hdf5

    pipe = Pipeline(args.model, args.device)
    qfile = hdf5.read(args.net)
    pipe.check_file(qfile, args.net)
    if args.bins is not None and args.data is None:
        raise UserError("--bins is for event data (--data DIR with test.h5)")
    data = pipe.task_data(args.task, args.data, args.bins)
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
    add_export_args(add_command(sub, "export", EXPORT_SUMMARY, EXPORT_EXAMPLES, EXPORT_DESCRIPTION))
    ver = add_command(
        sub,
        "verify",
        "check the Lava run of net.h5 against the model, spike for spike",
        "sg-lava verify model.pt net.h5\n"
        "sg-lava verify model.pt net.h5 --samples 8 --plot raster.png --plot-sample 3\n"
        "sg-lava verify model.pt net.h5 --backend float",
        "Runs net.h5 on Lava's CPU backend and the exact integer reference rebuilt from\n"
        "model.pt on the model's held-out samples (or --input), and compares every layer's\n"
        "output. The fixed backend must agree bit for bit; --backend float runs Lava's\n"
        "floating_pt model against the float model (its weights on the file's grid) and\n"
        "passes within a tolerance it prints (docs/model.md). Exit 1 on a divergence.",
    )
    ver.add_argument("model", help="trained model file (model.pt)")
    ver.add_argument("net", help="network file (net.h5)")
    ver.add_argument(
        "--samples", type=POSITIVE, default=4, help="held-out samples of the model's task"
    )
    ver.add_argument(
        "--steps", type=POSITIVE, default=None, help="time steps per sample (default: all)"
    )
    ver.add_argument("--input", default=None, help=".npy inputs instead of the task's")
    ver.add_argument(
        "--plot", default=None, help="draw the sample's input, rasters and readout here (.png)"
    )
    ver.add_argument(
        "--plot-sample", type=NON_NEGATIVE, default=0, help="which sample --plot draws"
    )
    ver.add_argument(
        "--backend",
        choices=BACKENDS,
        default="fixed",
        help="fixed: bit-accurate fixed_pt; float: floating_pt; loihi2: the chip (lava-loihi)",
    )
    ver.add_argument(
        "--workers",
        type=workers(1),
        default=None,
        help="Lava runtimes in separate processes, each on a shard of the samples, at most "
        "the cores (default: one per 2 cores, since one runtime keeps about 2 cores busy)",
    )
    add_threads_option(ver)
    ver.set_defaults(func=verify)

    ev = add_command(
        sub,
        "evaluate",
        "accuracy of the model and of net.h5's integers on a whole test set",
        "sg-lava evaluate model.pt net.h5 --task delay\n"
        "sg-lava evaluate model.pt net.h5 --data DIR --json\n"
        "sg-lava evaluate model.pt net.h5 --data DIR --bins 100",
        "Runs the test split through the float model and through the integers net.h5 holds\n"
        "(the exact reference of Lava's fixed_pt run) and prints both accuracies, their\n"
        "agreement, saturation and spike rates.",
    )
    ev.add_argument("model", help="trained model file (model.pt)")
    ev.add_argument("net", help="network file (net.h5)")
    src = ev.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", help="the built-in task the model was trained on (its test split)")
    src.add_argument(
        "--data", help="folder with test.npz (arrays x, y) or test.h5 (events, with --bins)"
    )
    ev.add_argument(
        "--bins",
        type=POSITIVE,
        default=None,
        help="time steps per event sample (default: the model's, when trained on events)",
    )
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--device", choices=DEVICES, default="auto", help="where the reference runs")
    add_threads_option(ev)
    ev.set_defaults(func=evaluate)

    dm = add_command(
        sub,
        "demo",
        "train, export, run on Lava and verify (the main job)",
        "sg-lava demo\nsg-lava demo --out /tmp/demo --epochs 5 --lava-samples 20",
        "Trains delay detection online, exports net.h5, runs test samples on Lava, verifies\n"
        "them spike for spike and writes report.md; replaces an earlier demo in --out.",
    )
    dm.add_argument("--out", default="demo_out", help="folder for every file it writes")
    dm.add_argument(
        "--epochs", type=POSITIVE, default=None, help="training epochs (default: the recipe's, 20)"
    )
    dm.add_argument("--seed", type=NON_NEGATIVE, default=0, help="seed of data, init and order")
    dm.add_argument("--lava-samples", type=POSITIVE, default=150, help="test samples run on Lava")
    dm.add_argument("--quiet", action="store_true", help="no progress bars")
    add_threads_option(dm)
    dm.set_defaults(func=demo)
