"""``sg-lava train``: a built-in task's recipe, or a user's network on a user's data.

Training writes the model file; the fixed-point accuracy printed last is the deployment's
figure for that file (:class:`sg_lava.deploy.pipeline.Pipeline`), the one ``sg-export``
then writes.
"""

from __future__ import annotations

import argparse
from typing import Any

from sg_lava.cli.base import (
    NON_NEGATIVE,
    POSITIVE,
    add_command,
    add_threads_option,
    non_negative_real,
    positive_real,
    workers,
)
from sg_lava.data.recipes import RECIPES
from sg_lava.errors import UserError
from sg_lava.export import TIMINGS
from sg_lava.training.config import CREDITS, LOSSES, MODES

# train_task's options that the command line passes through (the deploy examples too)
TASK_OPTIONS = (
    "epochs", "seed", "mode", "resolution", "per_synapse", "timing", "n_train", "n_test", "loss",
    "credit", "lr", "batch_size", "device", "resume", "overwrite", "init", "spike_cost",
    "spike_target",
)  # fmt: skip


def task_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :data:`TASK_OPTIONS` an ``argparse`` namespace has."""
    return {k: getattr(args, k) for k in TASK_OPTIONS if hasattr(args, k)}


def add_training_options(p: argparse.ArgumentParser) -> None:
    """``--mode``, ``--loss`` and ``--credit``, with the choices training takes (None: the
    recipe's)."""
    p.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="online: a loss and a backward per step; bptt: through the whole sequence "
        "(default: the recipe's, online for --data)",
    )
    p.add_argument(
        "--loss", choices=LOSSES, default=None, help="loss at every readout step (default: ce)"
    )
    p.add_argument(
        "--credit",
        choices=CREDITS,
        default=None,
        help="online credit: step (current step only; default), alpha (+ exact alpha traces), "
        "traces (+ exact credit across one layer boundary)",
    )
    p.add_argument(
        "--spike-cost",
        type=non_negative_real,
        default=0.0,
        metavar="L",
        help="add L x (hidden spikes per neuron per step) to the loss (docs/sparsity.md; 0: off)",
    )
    p.add_argument(
        "--spike-target",
        type=non_negative_real,
        default=None,
        metavar="R",
        help="with --spike-cost: pay only for the rate above R spikes per neuron per step",
    )


TRAIN_EXAMPLES = """
sg-lava train delay --out model.pt
sg-lava train delay --out runs/model.pt --epochs 5 --mode bptt
sg-lava train delay --out runs/model.pt --resume --epochs 8
sg-lava train delay --out tuned.pt --init model.pt --epochs 2 --lr 0.002
sg-lava train --data DIR --net net.toml --bins 100 --out model.pt
"""

TRAIN_DESCRIPTION = """\
Writes MODEL (--out) and beside it, after every epoch, MODEL.ckpt.pt (the checkpoint),
MODEL.best.pt (the best validation epoch), MODEL.metrics.jsonl and MODEL.curve.png.
A second run into the same --out is refused unless --resume (continue, or extend to
--epochs N) or --overwrite (replace the run). Missing folders of --out are created.
Prints the float and the exported fixed-point accuracy last."""


def register(sub) -> None:
    from sg_lava.devices import DEVICE_HELP

    train = add_command(
        sub,
        "train",
        "train a SpikingGamma network on a built-in task, or yours (--data, --net)",
        TRAIN_EXAMPLES,
        TRAIN_DESCRIPTION,
    )
    train.add_argument(
        "task", nargs="?", choices=sorted(RECIPES), help="synthetic task of the paper"
    )
    train.add_argument("--data", default=None, help="folder with train/test .npz or .h5 files")
    train.add_argument("--net", default=None, help="network config (net.toml, docs/data.md)")
    train.add_argument("--bins", type=POSITIVE, default=None, help="time steps per event sample")
    train.add_argument(
        "--workers",
        type=workers(0),
        default=0,
        help="DataLoader workers that bin event samples (at most the cores)",
    )
    train.add_argument(
        "--valid-fraction",
        type=float,
        default=None,
        help="--data runs: the stratified share of the training data the best epoch is "
        "chosen on (default 0.1; 0: none)",
    )
    train.add_argument("--out", required=True, help="model file to write (model.pt)")
    train.add_argument(
        "--epochs",
        type=POSITIVE,
        default=None,
        help="epochs (default: the recipe's, 10 with --data --mode online/bptt; with --resume: "
        "the run's)",
    )
    train.add_argument(
        "--lr", type=positive_real, default=None, help="learning rate (default: 0.01)"
    )
    train.add_argument(
        "--batch-size", type=POSITIVE, default=None, help="samples per batch (default: 64)"
    )
    train.add_argument("--seed", type=NON_NEGATIVE, default=0, help="seed of data, init and order")
    train.add_argument("--resolution", type=POSITIVE, default=1, help="time steps per task step")
    train.add_argument("--per-synapse", action="store_true", help="per-synapse bucket weights")
    train.add_argument(
        "--timing",
        choices=TIMINGS,
        default=None,
        help="lava: one step of latency per synapse (default); zero: the equations",
    )
    add_training_options(train)
    train.add_argument(
        "--n-train", type=POSITIVE, default=None, help="training samples (default: the recipe's)"
    )
    train.add_argument(
        "--n-test",
        type=POSITIVE,
        default=None,
        help="test (and validation) samples (default: the recipe's)",
    )
    train.add_argument("--device", default="auto", help=DEVICE_HELP)
    add_threads_option(train)
    kept = train.add_mutually_exclusive_group()
    kept.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint (MODEL.ckpt.pt); with --epochs N, "
        "extend a finished run to N epochs (the cosine schedule is then that of N epochs)",
    )
    kept.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    train.add_argument(
        "--init",
        default=None,
        metavar="MODEL",
        help="start from the weights of this model file (fine-tuning; same architecture)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar, no epoch lines")
    train.set_defaults(func=run)


def _train(args: argparse.Namespace, device: str, user: bool):
    """The training run ``sg-lava train`` asked for: a built-in task or the user's data."""
    from sg_lava.training.experiment import train_task, train_user

    progress = False if args.quiet else None
    if not user:
        options = {**task_options(args), "device": device}
        return train_task(args.task, args.out, progress=progress, **options)
    return train_user(
        args.net,
        args.data,
        args.out,
        bins=args.bins,
        seed=args.seed,
        valid_fraction=args.valid_fraction,
        workers=args.workers,
        progress=progress,
        device=device,
        resume=args.resume,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        mode=args.mode,
        loss=args.loss,
        credit=args.credit,
        spike_cost=args.spike_cost,
        spike_target=args.spike_target,
        overwrite=args.overwrite,
        init=args.init,
    )


def run(args: argparse.Namespace) -> int:
    """Train on one device, or under ``torchrun`` on several processes (rank 0 reports)."""
    user = args.data is not None or args.net is not None
    if user:
        _check_user_options(args)
    elif args.task is None:
        raise UserError("give a TASK, or --data DIR and --net net.toml")
    elif args.bins is not None:
        raise UserError("--bins is for event data (--data DIR with train.h5/test.h5)")
    from sg_lava.files import check_destination
    from sg_lava.training.runfiles import check_new_run

    inputs = [*_inputs(args), *([args.init] if args.init else [])]
    check_destination(args.out, inputs)  # before torch loads; the other run files later
    check_new_run(args.out, args.resume, args.overwrite)
    if args.init is not None and args.resume:
        raise UserError("--init starts a new run from a model file; --resume continues one")
    if args.spike_target is not None and not args.spike_cost:
        raise UserError("--spike-target R says where --spike-cost L starts to pay: give both")
    from sg_lava.devices import resolve_device
    from sg_lava.training import distributed

    _, device = distributed.init_from_env(resolve_device(args.device))
    try:
        res = _train(args, str(device), user)
    except BaseException:
        distributed.shutdown()
        raise
    distributed.shutdown(wait=True)
    if res is None:  # another rank than 0: rank 0 saves and reports
        return 0
    from sg_lava.deploy.pipeline import Pipeline

    fixed = Pipeline(res.path, str(device)).fixed_accuracy(res.test)
    what = f"data: {args.data}" if user else f"task: {args.task}"
    mode = res.settings.get("mode", args.mode)
    print(f"{what} ({mode}, seed {args.seed}), trained in {res.seconds:.1f} s")
    print(f"model: {args.out}")
    print(f"fixed-point accuracy: {fixed:.4f}")
    print(f"accuracy: {res.float_accuracy:.4f}")
    return 0


def _inputs(args: argparse.Namespace) -> list[str]:
    """The files a ``--data``/``--net`` run reads, which ``--out`` must not be."""
    if args.data is None:
        return []
    splits = [f"{args.data}/{split}.{ext}" for split in ("train", "test") for ext in ("npz", "h5")]
    return [args.net, *splits]


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
    for flag in ("n_train", "n_test"):
        if getattr(args, flag) is not None:
            raise UserError(
                f"--{flag.replace('_', '-')} is for built-in tasks; --data trains and tests "
                "on every sample of its files"
            )
