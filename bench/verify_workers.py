"""Lava verification with 1 vs 2 workers on SHD-shape samples (dense 700-256-256-20, K=8).

The same ``--samples`` samples (100 steps, Poisson inputs at 0.1 events per channel and step,
random calibrated weights, as in ``bench/reference_speed.py``) run through
``run_samples(workers=1)`` and ``run_samples(workers=2)``, alternating for ``--rounds``
rounds in one process; both outputs are checked equal to the integer reference. Prints a
markdown table with the CPU time each run used (this process and every child, Lava's
included): CPU seconds over wall seconds is how many cores the runtimes kept busy, so
``cores / busy(1 worker)`` bounds what more workers can gain on this machine.

    python bench/verify_workers.py [--samples 256] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
import torch
from reference_speed import SHAPES, network

import sg_lava  # noqa: F401
from sg_lava.processes.runner import run_samples
from sg_lava.reference.fixed import FixedNetwork


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(1)
    name = next(iter(SHAPES))
    _, qnet, x = network(*SHAPES[name], args.samples)
    xi = qnet.quantize_input(x.numpy())
    out, spikes, _ = FixedNetwork(qnet).run(xi, timing="lava")
    ref = [s.numpy() for s in (*spikes, out)]
    best = {1: float("inf"), 2: float("inf")}
    cpu = {}
    for _ in range(args.rounds):
        for w in (1, 2):
            c0, t0 = cpu_seconds(), time.perf_counter()
            lava = run_samples(qnet, xi, workers=w)
            wall = time.perf_counter() - t0
            if wall < best[w]:
                best[w], cpu[w] = wall, cpu_seconds() - c0
            assert all(np.array_equal(a, b) for a, b in zip(ref, lava)), f"{w} workers differ"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {name}, {args.samples} samples, best of {args.rounds} "
        "alternating rounds, outputs checked equal to the reference\n"
    )
    print("| workers | seconds | samples/s | speed-up | CPU seconds | cores busy |")
    print("|---|---|---|---|---|---|")
    for w in (1, 2):
        print(
            f"| {w} | {best[w]:.1f} | {args.samples / best[w]:.2f} | {best[1] / best[w]:.2f}x "
            f"| {cpu[w]:.1f} | {cpu[w] / best[w]:.2f} |"
        )
    cores = os.cpu_count() or 1
    print(
        f"\nOne runtime kept {cpu[1] / best[1]:.2f} of {cores} cores busy: more workers can "
        f"gain at most {cores * best[1] / cpu[1]:.2f}x here."
    )


def cpu_seconds() -> float:
    """User + system CPU time of this process and its reaped children (Lava's processes)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
