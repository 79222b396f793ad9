"""Train a built-in task with its recipe changed, and print the held-out accuracies.

One JSON line per run: the float model's accuracy and that of the fixed-point network
``sg-export`` would write, on the recipe's test split, and the seconds it took. ``--set``
changes a recipe entry by its dotted path, with a JSON value:

    python bench/recipe_trial.py delay-precise --set network.theta0=0.1 --set hidden=[128] \
        [--mode bptt] [--per-synapse] [--credit traces] [--epochs 40] [--out /tmp/trial.pt]

docs/resolution.md lists the trials behind the delay-precise recipe and at finer steps.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from sg_lava.data import recipes
from sg_lava.model import config
from sg_lava.training.experiment import train_task


def apply(recipe: dict, setting: str) -> None:
    """Set ``a.b=JSON`` in ``recipe`` (the path must exist, or be a network setting of
    :data:`sg_lava.model.config.DEFAULTS`: a typo is an error)."""
    path, _, value = setting.partition("=")
    *parents, leaf = path.split(".")
    node = recipe
    for key in parents:
        node = node[key]
    if leaf not in node and not (parents == ["network"] and leaf in config.DEFAULTS):
        raise SystemExit(f"--set {setting}: the recipe has no {path!r}")
    node[leaf] = json.loads(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=sorted(recipes.RECIPES))
    ap.add_argument("--set", action="append", default=[], metavar="PATH=JSON")
    ap.add_argument("--mode", choices=("online", "bptt"), default="online")
    ap.add_argument("--credit", choices=("step", "alpha", "traces"), default=None)
    ap.add_argument("--per-synapse", action="store_true")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--resolution", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="model file (default: a temporary one)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    recipes.RECIPES[args.task] = recipes.recipe(args.task)  # --set changes this task alone
    for setting in args.set:
        apply(recipes.RECIPES[args.task], setting)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or str(Path(tmp) / "model.pt")
        t0 = time.perf_counter()
        res = train_task(
            args.task,
            out,
            epochs=args.epochs,
            seed=args.seed,
            mode=args.mode,
            resolution=args.resolution,
            per_synapse=args.per_synapse,
            credit=args.credit,
            progress=False,
            overwrite=args.out is not None,  # --out: this trial replaces the last one
        )
    row = {
        "task": args.task,
        "set": args.set,
        "mode": args.mode,
        "credit": args.credit,
        "per_synapse": args.per_synapse,
        "resolution": args.resolution,
        "float": round(res.float_accuracy, 4),
        "fixed": round(res.fixed_accuracy, 4),
        "seconds": round(time.perf_counter() - t0),
    }
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
