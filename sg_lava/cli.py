"""Command line: ``sg-lava <command>`` and ``sg-export``.

Every command turns expected failures (bad files, bad arguments) into one line on stderr
and a non-zero exit; see :class:`sg_lava.errors.UserError`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import numpy as np

from sg_lava import __version__
from sg_lava.errors import UserError


def _cmd_smoke(args: argparse.Namespace) -> int:
    from sg_lava.smoke import main

    return main()


def _cmd_train(args: argparse.Namespace) -> int:
    from sg_lava.experiment import train_task

    if args.epochs is not None and args.epochs < 1:
        raise UserError("--epochs must be at least 1")
    res = train_task(
        args.task,
        out=args.out,
        epochs=args.epochs,
        seed=args.seed,
        mode=args.mode,
        resolution=args.resolution,
        per_synapse=args.per_synapse,
        timing=args.timing,
        loss=args.loss,
        progress=not args.quiet,
        credit=args.credit,
    )
    print(f"task: {args.task} ({args.mode}, seed {args.seed}), trained in {res.seconds:.1f} s")
    print(f"model: {args.out}")
    print(f"fixed-point accuracy: {res.fixed_accuracy:.4f}")
    print(f"accuracy: {res.float_accuracy:.4f}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from sg_lava.exporter import export_model, format_report

    res = export_model(args.model, args.out, allow_saturation=args.allow_saturation)
    print(format_report(res))
    n = sum(L.n_synapses for L in res.qnet.layers)
    print(f"wrote {args.out}: {len(res.qnet.layers)} layers, {n} synaptic weights")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from sg_lava.export import hdf5
    from sg_lava.exporter import describe

    print(describe(hdf5.read(args.net)))
    return 0


def timing_note(net_path: str) -> str | None:
    """A warning when ``net.h5`` was trained in ``zero`` timing: Lava runs ``lava`` timing."""
    from sg_lava.export import hdf5

    if hdf5.read(net_path).timing != "zero":
        return None
    return (
        f"note: {net_path} was trained in 'zero' timing; Lava always runs its own schedule "
        "('lava': one step per synapse), so accuracy may differ (docs/schedule_mismatch.md)"
    )


def _warn_timing(net_path: str) -> None:
    note = timing_note(net_path)
    if note:
        print(note, file=sys.stderr)


def _cmd_run(args: argparse.Namespace) -> int:
    from sg_lava.processes.network import run_file

    _warn_timing(args.net)
    arrays = run_file(args.net, args.input, args.out, args.backend)
    out = arrays["output"]
    print(
        f"ran {out.shape[0]} sample(s) x {out.shape[1]} steps on Lava ({args.backend}); "
        f"output lags {int(arrays['latency'])} steps"
    )
    for key in sorted(k for k in arrays if k.startswith("layer_")):
        a = arrays[key]
        print(f"{key}: shape {a.shape}, {np.count_nonzero(a)} non-zero")
    print(f"wrote {args.out}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from sg_lava.verify import plot_rasters, verify

    _warn_timing(args.net)
    res = verify(
        args.model,
        args.net,
        samples=args.samples,
        steps=args.steps,
        backend=args.backend,
        inputs=args.input,
    )
    print(res.table())
    for problem in res.parameter_mismatches:
        print(f"parameter differs between model and file: {problem}")
    if args.plot:
        plot_rasters(res, args.plot)
        print(f"raster plot: {args.plot}")
    print(res.summary_line())
    return 0 if res.ok else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from sg_lava.demo import run_demo

    return run_demo(
        args.out,
        epochs=args.epochs,
        seed=args.seed,
        lava_samples=args.lava_samples,
        progress=not args.quiet,
    )


def _add_export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="trained model file (model.pt)")
    p.add_argument("out", help="network file to write (net.h5)")
    p.add_argument(
        "--allow-saturation",
        action="store_true",
        help="write the file even if quantisation clips or saturates more than 0.1%%",
    )
    p.set_defaults(func=_cmd_export)


def build_parser() -> argparse.ArgumentParser:
    """The ``sg-lava`` parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="sg-lava",
        description="SpikingGamma networks: train in PyTorch, export to HDF5, run and verify on Lava.",
    )
    parser.add_argument("--version", action="version", version=f"sg-lava {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    smoke = sub.add_parser("smoke", help="run a tiny fixed-point Lava network (install check)")
    smoke.set_defaults(func=_cmd_smoke)

    from sg_lava.recipes import RECIPES

    train = sub.add_parser("train", help="train a SpikingGamma network on a built-in task")
    train.add_argument("task", choices=sorted(RECIPES), help="synthetic task of the paper")
    train.add_argument("--out", required=True, help="model file to write (model.pt)")
    train.add_argument("--epochs", type=int, default=None, help="epochs (default: the recipe's)")
    train.add_argument("--seed", type=int, default=0, help="seed of data, init and order")
    train.add_argument("--mode", choices=("online", "bptt"), default="online")
    train.add_argument("--resolution", type=int, default=1, help="time steps per task step")
    train.add_argument("--per-synapse", action="store_true", help="per-synapse bucket weights")
    train.add_argument(
        "--timing",
        choices=("lava", "zero"),
        default=None,
        help="lava: one step of latency per synapse (default); zero: the equations",
    )
    train.add_argument("--loss", choices=("ce", "mse"), default="ce", help="loss at every step")
    train.add_argument(
        "--credit",
        choices=("step", "alpha", "traces"),
        default=None,
        help="online credit: step (current step only; default), alpha (+ exact alpha traces), "
        "traces (+ exact credit across one layer boundary)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train)

    _add_export_args(
        sub.add_parser("export", help="quantise a model and write net.h5 (= sg-export)")
    )
    inspect = sub.add_parser("inspect", help="summarise a network file")
    inspect.add_argument("net", help="network file (net.h5)")
    inspect.set_defaults(func=_cmd_inspect)

    run = sub.add_parser("run", help="run net.h5 on Lava's CPU backend")
    run.add_argument("net", help="network file (net.h5)")
    run.add_argument("--input", required=True, help=".npy of (batch, T, *input_shape)")
    run.add_argument("--out", required=True, help=".npz to write, one array per layer")
    run.add_argument("--backend", choices=("fixed", "float", "loihi2"), default="fixed")
    run.set_defaults(func=_cmd_run)

    ver = sub.add_parser("verify", help="check the Lava run against the model, spike for spike")
    ver.add_argument("model", help="trained model file (model.pt)")
    ver.add_argument("net", help="network file (net.h5)")
    ver.add_argument("--samples", type=int, default=4, help="held-out samples of the model's task")
    ver.add_argument("--steps", type=int, default=None, help="time steps per sample")
    ver.add_argument("--input", default=None, help=".npy inputs instead of the task's")
    ver.add_argument("--plot", default=None, help="write both rasters and the mismatches here")
    ver.add_argument("--backend", choices=("fixed", "float", "loihi2"), default="fixed")
    ver.set_defaults(func=_cmd_verify)

    demo = sub.add_parser("demo", help="train, export, run on Lava and verify (the main job)")
    demo.add_argument("--out", default="demo_out", help="folder for every file it writes")
    demo.add_argument("--epochs", type=int, default=None)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--lava-samples", type=int, default=150, help="test samples run on Lava")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_cmd_demo)
    return parser


def guarded(prog: str, func: Callable[[], int]) -> int:
    """Run ``func``; expected failures become one line on stderr and a non-zero exit."""
    import sg_lava  # noqa: F401  (Lava compat hooks before any command touches Lava)

    try:
        return func()
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug or an environment problem: still one line
        if os.environ.get("SG_LAVA_DEBUG"):
            raise
        msg = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        print(
            f"{prog}: internal error: {type(err).__name__}: {msg} "
            "(set SG_LAVA_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 3


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return guarded(parser.prog, lambda: func(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sg-lava``."""
    return _dispatch(build_parser(), argv)


def build_export_parser() -> argparse.ArgumentParser:
    """The ``sg-export`` parser."""
    parser = argparse.ArgumentParser(
        prog="sg-export",
        description="Export a trained SpikingGamma model (model.pt) to a netx-style HDF5 file.",
    )
    parser.add_argument("--version", action="version", version=f"sg-lava {__version__}")
    _add_export_args(parser)
    return parser


def export_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sg-export``."""
    return _dispatch(build_export_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
