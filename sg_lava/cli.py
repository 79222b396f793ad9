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

DEVICES = ("auto", "cpu", "cuda")  # where the integer reference runs (sg_lava.fixed.resolve_device)


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


def _train(args: argparse.Namespace, device: str, user: bool):
    """The training run ``sg-lava train`` asked for: a built-in task or the user's data."""
    from sg_lava.experiment import task_options, train_task, train_user

    progress = False if args.quiet else None
    if not user:
        options = {**task_options(args), "device": device}
        return train_task(args.task, args.out, progress=progress, **options)
    return train_user(
        args.net,
        args.data,
        args.out,
        bins=args.bins,
        epochs=args.epochs or 10,
        seed=args.seed,
        mode=args.mode,
        lr=args.lr or 0.01,
        batch_size=args.batch_size or 64,
        loss=args.loss,
        workers=args.workers,
        progress=progress,
        device=device,
        resume=args.resume,
        credit=args.credit,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    """Train on one device, or under ``torchrun`` on several processes (rank 0 reports)."""
    from sg_lava.files import check_destination

    check_destination(args.out)  # before training, not after
    from sg_lava import distributed
    from sg_lava.devices import resolve_device

    for name in ("lr", "batch_size", "bins"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive")
    user = args.data is not None or args.net is not None
    if user:
        _check_user_options(args)
    elif args.task is None:
        raise UserError("give a TASK, or --data DIR and --net net.toml")
    elif args.bins is not None:
        raise UserError("--bins is for event data (--data DIR with train.h5/test.h5)")
    _, device = distributed.init_from_env(resolve_device(args.device))
    try:
        res = _train(args, str(device), user)
    except BaseException:
        distributed.shutdown()
        raise
    distributed.shutdown(wait=True)
    if res is None:  # another rank than 0: rank 0 saves and reports
        return 0
    what = f"data: {args.data}" if user else f"task: {args.task}"
    print(f"{what} ({args.mode}, seed {args.seed}), trained in {res.seconds:.1f} s")
    print(f"model: {args.out}")
    print(f"fixed-point accuracy: {res.fixed_accuracy:.4f}")
    print(f"accuracy: {res.float_accuracy:.4f}")
    return 0


def _check_user_options(args: argparse.Namespace) -> None:
    """``--data``/``--net`` runs: both given, no task, no option that net.toml owns."""
    if args.task is not None:
        raise UserError(f"give either the task {args.task!r} or --data and --net, not both")
    if args.data is None or args.net is None:
        raise UserError("--data DIR and --net net.toml go together: give both")
    owned = {"--per-synapse": args.per_synapse, "--timing": args.timing}
    owned["--resolution"] = args.resolution != 1
    for flag, given in owned.items():
        if given:
            raise UserError(f"{flag} is set in net.toml for --net runs (see docs/data.md)")


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


def timing_note(qnet, net_path: str) -> str | None:
    """A warning when ``net.h5`` was trained in ``zero`` timing: Lava runs ``lava`` timing."""
    if qnet.timing != "zero":
        return None
    return (
        f"note: {net_path} was trained in 'zero' timing; Lava always runs its own schedule "
        "('lava': one step per synapse), so accuracy may differ (docs/schedule_mismatch.md)"
    )


def _warn_timing(qnet, net_path: str) -> None:
    note = timing_note(qnet, net_path)
    if note:
        print(note, file=sys.stderr)


def _cmd_plan(args: argparse.Namespace) -> int:
    from sg_lava.export import hdf5
    from sg_lava.export.plan import format_plan, plan_network

    qnet = hdf5.read(args.net)
    plan = plan_network(qnet)
    act = None
    if args.inputs or args.data or args.task is not None:
        from sg_lava.activity import activity_inputs, measure_activity

        x = activity_inputs(qnet, args.samples, args.inputs, args.data, args.task, args.seed)

        act = measure_activity(qnet, x, plan)
        plan.activity = act.as_dict()
    if args.json:
        print(plan.to_json())
        return 0
    print(format_plan(plan))
    if act is not None:
        from sg_lava.activity import format_activity

        print()
        print(format_activity(act))
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
    _warn_timing(qnet, args.net)
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
    from sg_lava.processes.runner import default_workers
    from sg_lava.verify import plot_rasters

    pipe = Pipeline(args.model)
    qfile = hdf5.read(args.net)
    _warn_timing(qfile, args.net)
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


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from sg_lava.export import hdf5
    from sg_lava.pipeline import Pipeline

    pipe = Pipeline(args.model)
    qfile = hdf5.read(args.net)
    pipe.check_file(qfile, args.net)
    data = pipe.task_data(args.task, args.data)
    res = pipe.evaluate(qfile, data, progress=sys.stderr.isatty(), device=args.device)
    print(json.dumps(res.as_dict()) if args.json else res.text())
    return 0


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
    from sg_lava.devices import DEVICE_HELP
    from sg_lava.recipes import RECIPES

    train = sub.add_parser(
        "train",
        help="train a SpikingGamma network on a built-in task, or yours (--data, --net)",
    )
    train.add_argument(
        "task", nargs="?", choices=sorted(RECIPES), help="synthetic task of the paper"
    )
    train.add_argument("--data", default=None, help="folder with train/test .npz or .h5 files")
    train.add_argument("--net", default=None, help="network config (net.toml, docs/data.md)")
    train.add_argument("--bins", type=int, default=None, help="time steps per event sample")
    train.add_argument("--workers", type=int, default=0, help="DataLoader workers for events")
    train.add_argument("--out", required=True, help="model file to write (model.pt)")
    train.add_argument(
        "--epochs", type=POSITIVE, default=None, help="epochs (default: the recipe's)"
    )
    train.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.01)")
    train.add_argument("--batch-size", type=POSITIVE, default=None, help="samples per batch (64)")
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
    train.add_argument(
        "--credit",
        choices=("step", "alpha", "traces"),
        default=None,
        help="online credit: step (current step only; default), alpha (+ exact alpha traces), "
        "traces (+ exact credit across one layer boundary)",
    )
    train.add_argument("--n-train", type=int, default=None, help="training samples")
    train.add_argument("--n-test", type=int, default=None, help="test (and validation) samples")
    train.add_argument("--device", default="auto", help=DEVICE_HELP)
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint beside --out (MODEL.ckpt.pt)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar, no epoch lines")
    train.set_defaults(func=_cmd_train)


def _add_plan(sub) -> None:
    plan = sub.add_parser(
        "plan", help="Loihi 2 resources, cores and chips of net.h5; activity on inputs"
    )
    plan.add_argument("net", help="network file (net.h5)")
    source = plan.add_mutually_exclusive_group()
    source.add_argument("--inputs", default=None, help=".npy of (batch, T, *input_shape)")
    source.add_argument(
        "--task",
        nargs="?",
        const="",
        default=None,
        help="held-out inputs of a built-in task (default: the task the file records)",
    )
    source.add_argument("--data", default=None, help="folder with test.npz (arrays x and y)")
    plan.add_argument("--samples", type=int, default=32, help="samples to measure (default 32)")
    plan.add_argument("--seed", type=int, default=0, help="seed the task was trained with")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.set_defaults(func=_cmd_plan)


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
    ver.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Lava runtimes in separate processes, each on a shard of the samples "
        "(default: one per 2 cores, since one runtime keeps about 2 cores busy)",
    )
    ver.set_defaults(func=_cmd_verify)

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
    ev.set_defaults(func=_cmd_evaluate)


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
    _add_plan(sub)
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
    except BrokenPipeError:  # the reader went away (sg-lava inspect net.h5 | head): stop
        # quietly, as a Unix tool killed by SIGPIPE does; stdout to devnull so that the
        # interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
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
