"""The deploy examples' command line (``deploy_examples/``): the same options for every
example, and the same one-line errors."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from sg_lava.cli.base import (
    NON_NEGATIVE,
    POSITIVE,
    HelpFormatter,
    Parser,
    add_threads_option,
    guarded,
    positive_real,
    workers,
)
from sg_lava.cli.train import TASK_OPTIONS, add_training_options
from sg_lava.threads import set_threads


def example_parser(doc: str, default_out: str) -> argparse.ArgumentParser:
    """Options every example has."""
    ap = Parser(
        description=doc.strip().splitlines()[0],
        epilog="\n".join(doc.strip().splitlines()[1:]),
        formatter_class=HelpFormatter,
    )
    ap.add_argument("--out", default=default_out, help="folder for model, net.h5, plots, report")
    ap.add_argument(
        "--epochs", type=POSITIVE, default=None, help="training epochs (default: the recipe's)"
    )
    ap.add_argument("--seed", type=NON_NEGATIVE, default=0, help="seed of data, init and order")
    add_training_options(ap)
    ap.add_argument("--per-synapse", action="store_true", help="per-synapse bucket weights")
    ap.add_argument("--lava-samples", type=POSITIVE, default=100, help="test samples run on Lava")
    kept = ap.add_mutually_exclusive_group()
    kept.add_argument("--resume", action="store_true", help="continue the training run in --out")
    kept.add_argument("--overwrite", action="store_true", help="replace the training run in --out")
    add_threads_option(ap)
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def synthetic_main(task: str, title: str, doc: str, argv: Sequence[str] | None = None) -> int:
    """Train a built-in task's recipe, then deploy and verify it on Lava."""
    ap = example_parser(doc, f"runs/{task}")
    ap.add_argument(
        "--n-train", type=POSITIVE, default=None, help="training samples (default: the recipe's)"
    )
    ap.add_argument(
        "--n-test", type=POSITIVE, default=None, help="test samples (default: the recipe's)"
    )
    args = ap.parse_args(argv)
    set_threads(args.threads)

    def run() -> int:
        from sg_lava.deploy.examples import run_synthetic

        options = {k: getattr(args, k) for k in TASK_OPTIONS if hasattr(args, k)}
        return run_synthetic(
            task,
            args.out,
            title,
            lava_samples=args.lava_samples,
            progress=not args.quiet,
            **options,
        )

    return guarded(task, run)


def dataset_parser(doc: str, default_out: str, batch_size: int) -> argparse.ArgumentParser:
    """Options of the dataset examples: the example options plus data and training ones."""
    ap = example_parser(doc, default_out)
    ap.add_argument("--data", required=True, help="the folder that holds the dataset")
    ap.add_argument("--K", type=POSITIVE, default=8, help="gamma buckets per neuron")
    ap.add_argument("--lr", type=positive_real, default=0.005, help="learning rate")
    ap.add_argument("--batch-size", type=POSITIVE, default=batch_size, help="samples per batch")
    ap.add_argument(
        "--max-train",
        type=POSITIVE,
        default=None,
        help="use at most this many samples (default: all)",
    )
    ap.add_argument(
        "--max-test", type=POSITIVE, default=None, help="test samples at most (default: all)"
    )
    ap.add_argument(
        "--workers", type=workers(0), default=2, help="DataLoader workers that bin samples"
    )
    ap.add_argument("--cache", default=None, help="folder for tonic's DiskCachedDataset")
    ap.add_argument(
        "--verify-samples",
        type=NON_NEGATIVE,
        default=None,
        help="test samples verified on Lava (default: --lava-samples); the whole test split "
        "is evaluated through the integer reference",
    )
    ap.add_argument(
        "--lava-workers",
        type=workers(1),
        default=None,
        help="Lava runtimes (default: one per 2 cores)",
    )
    return ap


def dataset_main(
    name: str,
    args: argparse.Namespace,
    build: Callable[[], tuple[str, dict, object, object]],
    stored_test: int = 4,
) -> int:
    """Run a dataset example: ``build()`` gives (title, network config, train, test)
    streams; training takes the parsed options, deployment the Lava ones."""

    set_threads(args.threads)

    def run() -> int:
        from sg_lava.deploy.examples import run_dataset
        from sg_lava.processes.runner import default_workers
        from sg_lava.training.config import TrainConfig

        title, config, train, test = build()
        cfg = TrainConfig(
            mode=args.mode or "online",
            epochs=args.epochs or 10,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
            loss=args.loss or "ce",
            credit=args.credit or "step",
        )
        n = args.lava_samples if args.verify_samples is None else args.verify_samples
        workers = default_workers() if args.lava_workers is None else args.lava_workers
        return run_dataset(
            name,
            title,
            config,
            train,
            test,
            cfg,
            args.out,
            verify_samples=n,
            progress=not args.quiet,
            workers=workers,
            stored_test=stored_test,
            resume=args.resume,
            overwrite=args.overwrite,
        )

    return guarded(name, run)
