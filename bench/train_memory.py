"""Peak memory and time per step of online (one-step or traces) vs BPTT training, for growing T.

Modes: ``online`` (credit ``step``: the current step only), ``alpha`` and ``traces``
(online with the forward-mode traces of :mod:`sg_lava.training.credit`; ``traces`` here ignores
the memory budget) and ``bptt``.

Each (mode, T) runs in a fresh process: build a 2-64-3 network (K=8) and the batch of 32
sequences of T steps, warm up on 10 steps, then train the batch. Reported: the process's
peak resident set size, and the part of it that training added above the baseline taken
just before (the torch runtime and the input data are in the baseline).

    python bench/train_memory.py [--steps 500 1000 2000 4000] [--batch 32] [--hidden 64]
        [--modes online traces bptt] [--layers 1]

``--layers`` hidden layers of ``--hidden`` neurons (2 or 3 gamma layers in all); for
SHD's shape use ``--inputs 700 --hidden 256 --layers 2 --outputs 20 --batch 64``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(mode: str, steps: int, args: argparse.Namespace) -> dict:
    import functools

    import torch

    from sg_lava.data.recipes import dense_config
    from sg_lava.model.network import GammaNetwork
    from sg_lava.training.steps import train_batch_bptt, train_batch_online

    torch.manual_seed(0)
    torch.set_num_threads(1)
    hidden = [args.hidden] * args.layers
    net = GammaNetwork(dense_config(args.inputs, hidden, args.outputs, K=8))
    fn = {
        "online": train_batch_online,
        "alpha": functools.partial(train_batch_online, credit="alpha"),
        "traces": functools.partial(train_batch_online, credit="traces", budget_mb=1e9),
        "bptt": train_batch_bptt,
    }[mode]
    batch, n_out = args.batch, args.outputs
    y = torch.randint(0, n_out, (batch,))
    x = (torch.rand(batch, steps, args.inputs) < 0.05).float()  # data exist before the baseline
    mask = torch.ones(batch, steps, dtype=torch.bool)
    fn(net, x[:, :3], y, mask[:, :3], "ce", n_out)  # warm-up
    base = peak_rss_mb()
    t0 = time.perf_counter()
    fn(net, x, y, mask, "ce", n_out)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    return {
        "mode": mode,
        "T": steps,
        "peak_mb": peak - base,
        "total_mb": peak,
        "ms_per_step": 1000 * seconds / steps,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1, help="hidden layers")
    ap.add_argument("--inputs", type=int, default=2)
    ap.add_argument("--outputs", type=int, default=3)
    ap.add_argument("--modes", nargs="+", default=["online", "traces", "bptt"])
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args)))
        return
    rows = []
    for mode in args.modes:
        for T in args.steps:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    str(T),
                    "--batch",
                    str(args.batch),
                    "--hidden",
                    str(args.hidden),
                    "--layers",
                    str(args.layers),
                    "--inputs",
                    str(args.inputs),
                    "--outputs",
                    str(args.outputs),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(
                f"{r['mode']:>6}  T={r['T']:>5}  peak +{r['peak_mb']:8.1f} MB "
                f"(process {r['total_mb']:7.1f} MB)  {r['ms_per_step']:6.2f} ms/step",
                flush=True,
            )
    print(
        f"\nmachine: {platform.machine()}, {platform.python_version()}, batch {args.batch}, "
        f"network {args.inputs}-{'-'.join([str(args.hidden)] * args.layers)}-{args.outputs}, K=8"
    )
    print("| mode | T | training peak above baseline (MB) | process peak RSS (MB) | ms / step |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['mode']} | {r['T']} | {r['peak_mb']:.1f} | {r['total_mb']:.0f} | {r['ms_per_step']:.2f} |"
        )
    for mode in args.modes:
        sel = [r for r in rows if r["mode"] == mode]
        a, b = sel[0], sel[-1]
        print(
            f"{mode}: process peak at T={b['T']} / T={a['T']} = {b['total_mb'] / a['total_mb']:.2f}x; "
            f"training peak {a['peak_mb']:.1f} -> {b['peak_mb']:.1f} MB"
        )


if __name__ == "__main__":
    main()
