"""Command line: ``sg-lava <command>`` and ``sg-export``.

Every command turns expected failures (bad files, bad arguments) into one line on stderr
and a non-zero exit; see :class:`sg_lava.errors.UserError`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from sg_lava import __version__
from sg_lava.errors import UserError
from sg_lava.export import TIMINGS
from sg_lava.processes import BACKENDS


class Parser(argparse.ArgumentParser):
    """argparse, but an argument error is one line (exit 2), and nothing heavy is imported."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(lo: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text[:40]!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {value}")
        return value

    parse.__name__ = f"integer >= {lo}"
    return parse


POSITIVE = _int_at_least(1)
NON_NEGATIVE = _int_at_least(0)


def _cmd_smoke(args: argparse.Namespace) -> int:
    from sg_lava.smoke import main

    return main()


def _cmd_train(args: argparse.Namespace) -> int:
    from sg_lava.files import check_destination

    check_destination(args.out)  # before training, not after

    from sg_lava.experiment import task_options, train_task

    res = train_task(args.task, args.out, progress=not args.quiet, **task_options(args))
    print(f"task: {args.task} ({args.mode}, seed {args.seed}), trained in {res.seconds:.1f} s")
    print(f"model: {args.out}")
    print(f"fixed-point accuracy: {res.fixed_accuracy:.4f}")
    print(f"accuracy: {res.float_accuracy:.4f}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from sg_lava.files import check_destination

    check_destination(args.out, [args.model])  # before quantising
    from sg_lava.pipeline import Pipeline

    res = Pipeline(args.model).export(args.out, allow_saturation=args.allow_saturation)
    print(res.table())
    n = sum(L.n_synapses for L in res.qnet.layers)
    print(f"wrote {args.out}: {len(res.qnet.layers)} layers, {n} synaptic weights")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from sg_lava.export import hdf5
    from sg_lava.export.summary import describe

    print(describe(hdf5.read(args.net)))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    """Torch-free: the file, the inputs and Lava."""
    import io

    import numpy as np

    from sg_lava.export import hdf5
    from sg_lava.files import atomic_write, check_destination
    from sg_lava.inputs import load_input_array
    from sg_lava.processes.runner import encode_inputs, run_samples

    inputs = [args.net, args.input]
    check_destination(args.out, inputs)
    qnet = hdf5.read(args.net)
    neurons = sum(L.n_neurons for L in qnet.layers)
    x = load_input_array(args.input, qnet.input_shape, qnet.input_limit(), neurons)
    outs = run_samples(qnet, encode_inputs(qnet, x, args.backend), args.backend)
    arrays = {f"layer_{i}": a for i, a in enumerate(outs)}
    arrays["output"] = outs[-1]
    arrays["latency"] = np.array(qnet.latency)
    arrays["frac_bits"] = np.array([L.frac_bits for L in qnet.layers])
    buf = io.BytesIO()  # zipped in memory: a full disk fails in atomic_write, cleanly
    np.savez(buf, **arrays)
    atomic_write(args.out, lambda f: f.write(buf.getbuffer()), inputs)
    print(
        f"ran {x.shape[0]} sample(s) x {x.shape[1]} steps on Lava ({args.backend}); "
        f"output lags {qnet.latency} steps"
    )
    for i, a in enumerate(outs):
        print(f"layer_{i}: shape {a.shape}, {np.count_nonzero(a)} non-zero")
    print(f"wrote {args.out}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from sg_lava.files import check_destination

    inputs = [args.model, args.net, args.input]
    if args.plot:
        check_destination(args.plot, inputs)
    from sg_lava.export import hdf5
    from sg_lava.pipeline import Pipeline
    from sg_lava.verify import plot_rasters

    pipe = Pipeline(args.model)
    qfile = hdf5.read(args.net)
    x = pipe.verification_inputs(args.samples, args.steps, args.input)
    res = pipe.verify(qfile, x, args.backend)
    print(res.table())
    for problem in res.parameter_mismatches:
        print(f"parameter differs between model and file: {problem}")
    if args.plot:
        plot_rasters(res, args.plot, inputs=inputs)
        print(f"raster plot: {args.plot}")
    print(res.summary_line())
    return 0 if res.ok else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} exists and is not a folder")
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


def _add_train(sub) -> None:
    from sg_lava.recipes import RECIPES

    train = sub.add_parser("train", help="train a SpikingGamma network on a built-in task")
    train.add_argument("task", choices=sorted(RECIPES), help="synthetic task of the paper")
    train.add_argument("--out", required=True, help="model file to write (model.pt)")
    train.add_argument(
        "--epochs", type=POSITIVE, default=None, help="epochs (default: the recipe's)"
    )
    train.add_argument("--seed", type=NON_NEGATIVE, default=0, help="seed of data, init and order")
    train.add_argument("--mode", choices=("online", "bptt"), default="online")
    train.add_argument("--resolution", type=POSITIVE, default=1, help="time steps per task step")
    train.add_argument("--per-synapse", action="store_true", help="per-synapse bucket weights")
    train.add_argument(
        "--timing",
        choices=TIMINGS,
        default=None,
        help="lava: one step of latency per synapse (default); zero: the equations",
    )
    train.add_argument("--loss", choices=("ce", "mse"), default="ce", help="loss at every step")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train)


def _add_lava_commands(sub) -> None:
    run = sub.add_parser("run", help="run net.h5 on Lava's CPU backend")
    run.add_argument("net", help="network file (net.h5)")
    run.add_argument("--input", required=True, help=".npy of (batch, T, *input_shape)")
    run.add_argument("--out", required=True, help=".npz to write, one array per layer")
    run.add_argument("--backend", choices=BACKENDS, default="fixed")
    run.set_defaults(func=_cmd_run)

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
    ver.set_defaults(func=_cmd_verify)


def _add_demo(sub) -> None:
    demo = sub.add_parser("demo", help="train, export, run on Lava and verify (the main job)")
    demo.add_argument("--out", default="demo_out", help="folder for every file it writes")
    demo.add_argument("--epochs", type=POSITIVE, default=None)
    demo.add_argument("--seed", type=NON_NEGATIVE, default=0)
    demo.add_argument("--lava-samples", type=POSITIVE, default=150, help="test samples run on Lava")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    """The ``sg-lava`` parser with one sub-parser per command."""
    parser = Parser(
        prog="sg-lava",
        description="SpikingGamma networks: train in PyTorch, export to HDF5, run and verify on Lava.",
    )
    parser.add_argument("--version", action="version", version=f"sg-lava {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    smoke = sub.add_parser("smoke", help="run a tiny fixed-point Lava network (install check)")
    smoke.set_defaults(func=_cmd_smoke)
    _add_train(sub)
    _add_export_args(
        sub.add_parser("export", help="quantise a model and write net.h5 (= sg-export)")
    )
    inspect = sub.add_parser("inspect", help="summarise a network file")
    inspect.add_argument("net", help="network file (net.h5)")
    inspect.set_defaults(func=_cmd_inspect)
    _add_lava_commands(sub)
    _add_demo(sub)
    return parser


def guarded(prog: str, func: Callable[[], int]) -> int:
    """Run ``func``; expected failures become one line on stderr and a non-zero exit."""
    import sg_lava  # noqa: F401  (Lava compat hooks before any command touches Lava)
    from sg_lava.interrupts import exit_code, stop_on_signals

    try:
        with stop_on_signals():  # SIGTERM too runs every finally block (temp files, Lava)
            return func()
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        code = exit_code(err)
        print(f"{prog}: {'interrupted' if code == 130 else 'terminated'}", file=sys.stderr)
        return code
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
    parser = Parser(
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
