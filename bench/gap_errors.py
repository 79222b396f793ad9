"""Errors per gap of a two-event model (delay, delay-precise): which timings it gets wrong.

For each model file, the exported fixed-point network (as ``sg-export`` would write it) runs
the model's own test split; samples are grouped by the gap from the first event to the
second in time units (negative: the reversed order), and the errors counted per gap:

    python bench/gap_errors.py runs/resolution/model_delay-precise_online_x4.best.pt ...
        [--n-test 300]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from sg_lava.data.tasks import task_split
from sg_lava.deploy.pipeline import Pipeline


def gap_errors(model: Path, n_test: int | None) -> tuple[float, dict[int, tuple[int, int]]]:
    """Fixed-point accuracy and ``{gap: (errors, samples)}`` on the model's test split."""
    pipe = Pipeline(model)
    task = pipe.payload["task"]
    params = task["params"]
    test = task_split(task, "test", n_test or task["n_test"])
    wrong = pipe.fixed_predictions(test) != test.y
    a, b = test.x[:, :, 0].argmax(1), test.x[:, :, 1].argmax(1)
    gap = torch.div(b - a, int(params.get("resolution", 1)), rounding_mode="floor")
    out = {}
    for g in sorted(set(gap.tolist())):
        sel = gap == g
        out[g] = (int((wrong & sel).sum()), int(sel.sum()))
    return 1.0 - float(wrong.double().mean()), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--n-test", type=int, default=None, help="default: the model's own")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for model in args.models:
        acc, per_gap = gap_errors(model, args.n_test)
        cells = "  ".join(f"{g:+d}: {e}/{n}" for g, (e, n) in per_gap.items())
        print(f"{model.name} (fixed {acc:.4f})  {cells}")


if __name__ == "__main__":
    main()
