"""Lava verification with 1 vs 2 workers on SHD-shape samples (dense 700-256-256-20, K=8).

The same ``--samples`` samples (100 steps, Poisson inputs at 0.1 events per channel and step,
random calibrated weights, as in ``bench/reference_speed.py``) run through
``run_samples(workers=1)`` and ``run_samples(workers=2)``, alternating for ``--rounds``
rounds in one process; both outputs are checked equal to the integer reference. Prints a
markdown table.

    python bench/verify_workers.py [--samples 256] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from reference_speed import SHAPES, network

import sg_lava  # noqa: F401
from sg_lava.fixed import FixedNetwork
from sg_lava.processes.runner import run_samples


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
    for _ in range(args.rounds):
        for w in (1, 2):
            t0 = time.perf_counter()
            lava = run_samples(qnet, xi, workers=w)
            best[w] = min(best[w], time.perf_counter() - t0)
            assert all(np.array_equal(a, b) for a, b in zip(ref, lava)), f"{w} workers differ"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {name}, {args.samples} samples, best of {args.rounds} "
        "alternating rounds, outputs checked equal to the reference\n"
    )
    print("| workers | seconds | samples/s | speed-up |")
    print("|---|---|---|---|")
    for w in (1, 2):
        print(f"| {w} | {best[w]:.1f} | {args.samples / best[w]:.2f} | {best[1] / best[w]:.2f}x |")


if __name__ == "__main__":
    main()
