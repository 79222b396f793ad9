"""The shared command line of the deploy examples (``deploy_examples/``).

Every example trains, exports, runs on Lava and verifies; these helpers give them the
same options and the same one-line error handling.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sg_lava.cli import guarded

if TYPE_CHECKING:
    from sg_lava.streaming import StreamData


def example_parser(doc: str, default_out: str) -> argparse.ArgumentParser:
    """Options every example has."""
    ap = argparse.ArgumentParser(
        description=doc.strip().splitlines()[0],
        epilog="\n".join(doc.strip().splitlines()[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--out", default=default_out, help="folder for model, net.h5, plots, report")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mode", choices=("online", "bptt"), default="online")
    ap.add_argument("--per-synapse", action="store_true", help="per-synapse bucket weights")
    ap.add_argument("--lava-samples", type=int, default=100, help="test samples run on Lava")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def synthetic_main(task: str, title: str, doc: str, argv: Sequence[str] | None = None) -> int:
    """Train a built-in task's recipe, then deploy and verify it on Lava."""
    ap = example_parser(doc, f"runs/{task}")
    ap.add_argument("--n-train", type=int, default=None, help="training samples")
    ap.add_argument("--n-test", type=int, default=None, help="test samples")
    args = ap.parse_args(argv)

    def run() -> int:
        from sg_lava.experiment import task_options, train_task
        from sg_lava.report import deploy, finish

        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        res = train_task(task, folder / "model.pt", progress=not args.quiet, **task_options(args))
        dep = deploy(res.pipeline, folder, res.test, args.lava_samples, not args.quiet)
        return finish(dep, title)

    return guarded(task, run)


def dataset_parser(doc: str, default_out: str, batch_size: int) -> argparse.ArgumentParser:
    """Options of the dataset examples: the example options plus data and training ones."""
    ap = example_parser(doc, default_out)
    ap.add_argument("--data", required=True, help="the folder that holds the dataset")
    ap.add_argument("--K", type=int, default=8, help="gamma buckets per neuron")
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--batch-size", type=int, default=batch_size)
    ap.add_argument("--max-train", type=int, default=None, help="use at most this many samples")
    ap.add_argument("--max-test", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers that bin samples")
    ap.add_argument("--cache", default=None, help="folder for tonic's DiskCachedDataset")
    ap.add_argument(
        "--verify-samples",
        type=int,
        default=None,
        help="test samples verified on Lava (default: --lava-samples); the whole test split "
        "is evaluated through the integer reference",
    )
    ap.add_argument(
        "--lava-workers", type=int, default=None, help="Lava runtimes (default: one per 2 cores)"
    )
    return ap


def deploy_dataset(
    name: str,
    title: str,
    args: argparse.Namespace,
    config: dict,
    train: StreamData,
    test: StreamData,
    stored_test: int = 4,
) -> int:
    """Train on a streamed split (read out over the second half of each sample), then deploy.

    The test split is read into memory once for the deployment's Lava run and report.
    """
    from sg_lava.experiment import train_and_save
    from sg_lava.pipeline import CALIBRATION_SAMPLES
    from sg_lava.report import deploy, finish
    from sg_lava.training import TrainConfig

    cfg = TrainConfig(
        mode=args.mode,
        epochs=args.epochs or 10,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    test_data = test.head(len(test))
    samples = {
        "calibration": train.head(CALIBRATION_SAMPLES).x,
        "test": test_data.x[:stored_test],
    }
    res = train_and_save(
        config, train, test_data, cfg, folder / "model.pt", {"name": name}, samples, not args.quiet
    )
    print(f"trained {name} in {res.seconds:.0f} s ({cfg.mode}, {cfg.epochs} epochs)", flush=True)
    from sg_lava.processes.runner import default_workers

    n = args.lava_samples if args.verify_samples is None else args.verify_samples
    workers = default_workers() if args.lava_workers is None else args.lava_workers
    return finish(deploy(res.pipeline, folder, test_data, n, not args.quiet, workers), title)
