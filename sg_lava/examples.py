"""The shared command line of the deploy examples (``deploy_examples/``).

Every example trains, exports, runs on Lava and verifies; these helpers give them the
same options and the same one-line error handling.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from sg_lava.cli import guarded


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
        from sg_lava.experiment import train_task
        from sg_lava.pipeline import deploy, finish

        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        res = train_task(
            task,
            out=folder / "model.pt",
            epochs=args.epochs,
            seed=args.seed,
            mode=args.mode,
            per_synapse=args.per_synapse,
            n_train=args.n_train,
            n_test=args.n_test,
            progress=not args.quiet,
        )
        dep = deploy(
            folder / "model.pt",
            folder,
            res.test,
            lava_samples=args.lava_samples,
            progress=not args.quiet,
        )
        return finish(dep, title)

    return guarded(task, run)


def run_example(name: str, func: Callable[[], int]) -> int:
    """Run an example body with the CLI's error handling."""
    return guarded(name, func)
