"""The cost of a schedule mismatch: train in ``zero`` or ``lava`` timing, run in both.

For each task, one model is trained (online, the recipe's network) in each timing and
evaluated on the same held-out set in each timing: accuracy, hidden-layer spikes per
sample and the decision latency (steps from the decisive event until the running
prediction stays correct; a ``lava`` run's lag of one step per synapse counts).

    python bench/schedule_mismatch.py --out docs/schedule_mismatch.md \
        [--tasks delay delay-precise echo] [--epochs 10] [--n-train 1000]
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
from pathlib import Path

import torch

from sg_lava.deploy.schedule import evaluate_in
from sg_lava.training.experiment import train_task

TIMINGS = ("zero", "lava")


def rows_for(task: str, args: argparse.Namespace) -> list[str]:
    """Markdown rows: one per (trained in, run in)."""
    rows = []
    for trained in TIMINGS:
        res = train_task(
            task,
            Path(args.out_dir) / f"model_{task}_{trained}.pt",
            epochs=args.epochs,
            seed=args.seed,
            timing=trained,
            n_train=args.n_train,
            n_test=args.n_test,
            progress=False,
            overwrite=True,  # a measurement: the models of an earlier one are not kept
        )
        for run in TIMINGS:
            ev = evaluate_in(res.net, res.test, run)
            mark = "" if run == trained else " (mismatch)"
            rows.append(
                f"| {task} | {trained} | {run}{mark} | {ev.accuracy:.4f} | "
                f"{ev.spikes_per_sample:.1f} | {ev.latency:.2f} |"
            )
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["delay", "delay-precise", "echo"])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="markdown file for the table")
    ap.add_argument("--out-dir", default=tempfile.mkdtemp(prefix="schedule-"), help="models")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # small networks: threads only add overhead
    lines = [
        "| task | trained in | run in | accuracy | spikes / sample | decision latency (steps) |",
        "|---|---|---|---|---|---|",
    ]
    for task in args.tasks:
        lines += rows_for(task, args)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = " ".join(["python bench/schedule_mismatch.py", *(sys.argv[1:] if argv is None else argv)])
    text = f"Measured {stamp} with `{cmd}`.\n\n" + "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
