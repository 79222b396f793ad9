"""Threads against speed: one training epoch and one inference batch per network size.

For the built-in tasks' networks and the SHD shape (700-256-256-20, K = 8, 100 steps), each
run in a fresh process with ``torch.set_num_threads(n)`` for n = 1, 2 and all cores:

* train: one online epoch of ``--samples`` samples (batch 64; forward, per-step backward,
  Adam step), the trainer's own batch step;
* infer: one batch of 64 samples through the float model (torch), and through the integer
  reference (``FixedNetwork.run``, compiled loops over the samples), the work of
  ``evaluate``, ``verify``, ``plan`` and ``sg-export``'s calibration.

``--busy`` repeats everything with the other cores kept busy (one spinning process per
core but one), as on a machine shared with another job. The table is what chose
``sg_lava.threads.DEFAULT_THREADS`` (``docs/benchmarks.md``).

    python bench/threads.py [--samples 256] [--nets delay shd] [--busy] [--infer-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext

NETS = ("delay", "coincidence", "delay-precise", "echo", "shd")
SHD_STEPS, BATCH = 100, 64


def build(name: str, samples: int):
    """The network, inputs, labels and readout mask of one of :data:`NETS`."""
    import torch

    from sg_lava.data.recipes import dense_config, recipe
    from sg_lava.data.tasks import make_task
    from sg_lava.model.network import GammaNetwork
    from sg_lava.training.experiment import recipe_config

    torch.manual_seed(0)
    if name == "shd":
        net = GammaNetwork(dense_config(700, [256, 256], 20, K=8, theta0=0.5, timing="lava"))
        g = torch.Generator().manual_seed(1)
        x = (torch.rand(samples, SHD_STEPS, 700, generator=g) < 0.05).float()
        y = torch.randint(20, (samples,), generator=g)
        mask = (torch.arange(SHD_STEPS) >= SHD_STEPS // 2).expand(samples, -1).clone()
        return net, x, y, mask
    data = make_task(name, samples, seed=1, **recipe(name)["task"])
    net = GammaNetwork(recipe_config(name, data.x.shape[-1], data.n_classes))
    return net, data.x, data.y, data.mask


def measure(name: str, threads: int, samples: int, train: bool = True) -> dict:
    """Seconds of one epoch (unless not ``train``) and of one inference batch, float model
    and integer reference, at ``threads`` (in this process)."""
    import torch

    from sg_lava.model.timing import pad_steps, shift_mask
    from sg_lava.reference.fixed import FixedNetwork
    from sg_lava.reference.quantize import quantize_network
    from sg_lava.training.steps import train_batch_online

    torch.set_num_threads(threads)
    net, x, y, mask = build(name, samples)
    lag = net.latency
    x, mask = pad_steps(x, lag), shift_mask(mask, lag)
    n_out = net.shapes[-1][1][0]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for i in range(0, samples if train else 0, BATCH):
        opt.zero_grad(set_to_none=True)
        b = slice(i, i + BATCH)
        train_batch_online(net, x[b], y[b], mask[b], "ce", n_out)
        opt.step()
    train_s = time.perf_counter() - start
    qnet, _ = quantize_network(net)
    xb = x[:BATCH]
    fixed = FixedNetwork(qnet)
    fixed.run(qnet.quantize_input(xb[:2].numpy()))  # compile the kernel outside the timing
    start = time.perf_counter()
    with torch.no_grad():
        net.eval()
        net(xb)
    float_s = time.perf_counter() - start
    start = time.perf_counter()
    fixed.run(qnet.quantize_input(xb.numpy()))
    reference_s = time.perf_counter() - start
    return {
        "net": name,
        "threads": threads,
        "train_s": train_s if train else float("nan"),
        "float_s": float_s,
        "reference_s": reference_s,
    }


@contextmanager
def busy_cores(n: int):
    """Keep ``n`` cores busy with spinning processes while the block runs."""
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(1.0)
        yield
    finally:
        for p in spin:
            p.kill()
            p.wait()


def run_one(name: str, threads: int, samples: int, train: bool = True) -> dict:
    """:func:`measure` in a fresh interpreter (a thread pool of its own)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    cmd = [sys.executable, __file__, "--one", name, str(threads), "--samples", str(samples)]
    cmd += [] if train else ["--infer-only"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=256, help="training samples per epoch")
    ap.add_argument("--nets", nargs="+", choices=NETS, default=list(NETS))
    ap.add_argument("--busy", action="store_true", help="also with the other cores busy")
    ap.add_argument("--infer-only", action="store_true", help="no training epoch")
    ap.add_argument("--one", nargs=2, metavar=("NET", "THREADS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    train = not args.infer_only
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.samples, train)))
        return
    cores = os.cpu_count() or 1
    counts = sorted({1, min(2, cores), cores})
    loads = [False, True] if args.busy and cores > 1 else [False]
    print(f"{cores} cores, load average {os.getloadavg()[0]:.2f} at the start")
    print("| network | others busy | threads | train epoch s | float batch s | reference batch s |")
    print("|---|---|---|---|---|---|")
    for busy in loads:
        with busy_cores(cores - 1) if busy else nullcontext():
            for name in args.nets:
                for n in counts:
                    r = run_one(name, n, args.samples, train)
                    print(
                        f"| {name} | {'yes' if busy else 'no'} | {n} | {r['train_s']:.2f} "
                        f"| {r['float_s']:.3f} | {r['reference_s']:.3f} |",
                        flush=True,
                    )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
