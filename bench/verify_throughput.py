"""Throughput of the batched fixed-point reference vs the Lava run, and reset vs rebuild.

1. Samples per second of the integer reference (``FixedNetwork``, batched, exact
   tensors) and of the Lava run (``Loihi2SimCfg(fixed_pt)``, one compiled network) on
   the same delay-detection samples, with the outputs checked equal.
2. Per-sample overhead of running samples back to back with the in-neuron reset versus
   building and compiling a fresh Lava network for every sample, for samples of
   ``--long-steps`` steps.

    python bench/verify_throughput.py [--samples 64] [--long-steps 1000]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from common import timed_samples

import sg_lava  # noqa: F401
from sg_lava.data.recipes import dense_config, recipe
from sg_lava.data.tasks import make_task
from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps
from sg_lava.processes.runner import run_samples
from sg_lava.reference.fixed import FixedNetwork
from sg_lava.reference.quantize import quantize_network


def delay_network():
    """The demo's shape (2-32-3, K=8), random weights, calibrated on the task."""
    r = recipe("delay")
    torch.manual_seed(0)
    net = GammaNetwork(dense_config(2, r["hidden"], 3, **r["network"]))
    data = make_task("delay", 64, seed=1, **r["task"])
    qnet, _ = quantize_network(net, calibration=pad_steps(data.x, net.latency))
    return qnet, r


def throughput(qnet, r, n: int) -> dict:
    data = make_task("delay", n, seed=2, **r["task"])
    x = qnet.quantize_input(pad_steps(data.x, qnet.latency).numpy())
    t0 = time.perf_counter()
    out, _, _ = FixedNetwork(qnet).run(x)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    lava = run_samples(qnet, x)
    t_lava = time.perf_counter() - t0
    assert np.array_equal(lava[-1], out.numpy()), "Lava and the reference disagree"
    return {"n": n, "steps": x.shape[1], "ref_sps": n / t_ref, "lava_sps": n / t_lava}


def reset_vs_rebuild(qnet, steps: int, n: int, reps: int = 3) -> dict:
    """Best-of-``reps`` seconds per sample of ``steps`` steps: back to back (in-neuron reset)
    vs the same steps as one long sample, and a rebuilt and recompiled network."""
    rng = np.random.default_rng(0)
    xs = (rng.random((n, steps, *qnet.input_shape)) < 0.05).astype(np.int64)
    per_sample, continuous, rebuild = [], [], []
    long = np.concatenate(list(xs), axis=0)[None]
    for _ in range(reps):
        t = timed_samples(qnet, np.concatenate([xs[:1], xs]))  # first: warm-up
        per_sample.append(sum(t[1:]) / n)
        continuous.append(timed_samples(qnet, np.concatenate([long, long]))[1] / n)
        rebuild.append(timed_samples(qnet, xs[:1])[0])
    ps, c, rb = min(per_sample), min(continuous), min(rebuild)
    return {
        "steps": steps,
        "per_sample": ps,
        "continuous": c,
        "reset_overhead": ps - c,
        "rebuild_overhead": rb - c,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--long-steps", type=int, default=1000)
    ap.add_argument("--long-samples", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(2)
    qnet, r = delay_network()
    t = throughput(qnet, r, args.samples)
    rr = reset_vs_rebuild(qnet, args.long_steps, args.long_samples)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, torch threads 2\n")
    print(
        f"delay network 2-32-3, K=8, {t['n']} samples of {t['steps']} steps (outputs checked equal)\n"
    )
    print("| run | samples/s | ratio |")
    print("|---|---|---|")
    print(
        f"| fixed-point reference (batched, exact) | {t['ref_sps']:.1f} | {t['ref_sps'] / t['lava_sps']:.0f}x |"
    )
    print(f"| Lava Loihi2SimCfg fixed_pt (incl. compile) | {t['lava_sps']:.1f} | 1x |")
    print(f"\nsamples of {rr['steps']} steps, one compiled network:\n")
    print("| per sample | seconds | share of a sample |")
    print("|---|---|---|")
    print(f"| steps alone (one long run) | {rr['continuous']:.3f} | 100% |")
    print(
        f"| back to back with reset | {rr['per_sample']:.3f} | {100 * rr['per_sample'] / rr['continuous']:.1f}% |"
    )
    print(
        f"| reset overhead | {rr['reset_overhead']:.4f} | {100 * rr['reset_overhead'] / rr['continuous']:.1f}% |"
    )
    print(
        f"| rebuild + compile overhead | {rr['rebuild_overhead']:.3f} | {100 * rr['rebuild_overhead'] / rr['continuous']:.0f}% |"
    )


if __name__ == "__main__":
    main()
