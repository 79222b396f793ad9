"""Samples per second of the integer reference vs the float model vs Lava, at paper scale.

Two networks, random weights, calibrated on their own inputs as ``sg-export`` does:

* SHD shape: dense 700-256-256-20, K=8, 100 steps; inputs are Poisson event counts at
  0.1 events per channel and step (about SHD's density);
* DVS Gesture shape: 2x32x32 input, conv3x3(8)-pool2-conv3x3(16)-pool2-dense(11), K=8,
  20 steps, events at 0.05 per pixel and step.

The reference (``FixedNetwork``, exact integers) and the float model (``GammaNetwork``
under ``torch.no_grad``, float32) run the same batches of ``--batch`` samples with
``--threads`` torch threads, interleaved in one process for ``--rounds`` rounds; the best
round of each is kept, so load on the machine hits both alike. Lava
(``Loihi2SimCfg(fixed_pt)``, one runtime) runs 1 and then ``--lava-samples`` N samples, each
compiled afresh: its per-sample cost at steady state is the difference over N - 1 samples
(compile and start-up cancel out); N samples with compile are shown beside it. Lava's
outputs are checked equal to the reference's. Prints a markdown table.

``--steps`` also times the reference on PyTorch's steps (``FixedNetwork(compiled=False)``),
interleaved with the rest, against the compiled loop that it runs by default.

    python bench/reference_speed.py [--batch 64] [--rounds 3] [--lava-samples 48] [--threads 1]
        [--steps]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

import sg_lava  # noqa: F401
from sg_lava.data.recipes import conv_config, dense_config
from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps
from sg_lava.reference.fixed import FixedNetwork
from sg_lava.reference.quantize import quantize_network

NEURON = {"K": 8, "F": 0.5, "theta0": 0.1, "timing": "lava"}  # hidden spike density ~0.05 (SHD)
SHAPES = {
    "SHD: dense 700-256-256-20, K=8, 100 steps": (
        dense_config(700, [256, 256], 20, **NEURON),
        100,
        0.1,
    ),
    "DVS Gesture: conv 2x32x32 c8-p2-c16-p2-d11, K=8, 20 steps": (
        conv_config(32, (8, 16), 11, **NEURON),
        20,
        0.05,
    ),
}


def network(config: dict, steps: int, rate: float, n: int, seed: int = 0):
    """A random network of ``config``, ``n`` inputs at ``rate``, the calibrated integers."""
    torch.manual_seed(seed)
    net = GammaNetwork(config).eval()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.poisson(torch.full((n, steps, *net.input_shape), rate), generator=g)
    x = pad_steps(x, net.latency)
    qnet, _ = quantize_network(net, calibration=x[:16])
    return net, qnet, x


def seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(name: str, config: dict, steps: int, rate: float, args) -> dict:
    net, qnet, x = network(config, steps, rate, args.batch)
    xi = qnet.quantize_input(x.numpy())
    fixed = FixedNetwork(qnet, device="cpu")
    stepwise = FixedNetwork(qnet, device="cpu", compiled=False)  # PyTorch's steps
    ref, flt, steps_s = [], [], []
    with torch.no_grad():
        net(x[:2])  # warm-up of all
        fixed.run(xi[:2])
        stepwise.run(xi[:2])
        for _ in range(args.rounds):
            ref.append(seconds(lambda: fixed.run(xi)))
            flt.append(seconds(lambda: net(x)))
            if args.steps:
                steps_s.append(seconds(lambda: stepwise.run(xi)))
    out, spikes, _ = fixed.run(xi)
    row = {
        "shape": name,
        "batch": args.batch,
        "ref_sps": args.batch / min(ref),
        "float_sps": args.batch / min(flt),
        "density": [float((s != 0).double().mean()) for s in spikes],
        "float_paths": fixed.float_layers(int(np.abs(xi).max())),
    }
    if steps_s:
        row["steps_sps"] = args.batch / min(steps_s)
    if args.lava_samples:
        from sg_lava.processes.runner import run_samples

        # Lava per sample at steady state: the time N samples take beyond one, each run
        # compiled afresh, so compile and start-up cancel out
        n = max(args.lava_samples, 2)
        lava_s = {}
        for k in (1, n):
            t0 = time.perf_counter()
            lava = run_samples(qnet, xi[:k], workers=1)
            lava_s[k] = time.perf_counter() - t0
        row["lava_sps"] = (n - 1) / max(lava_s[n] - lava_s[1], 1e-9)
        row["lava_sps_compile"] = n / lava_s[n]
        ref_lava, ref_spikes, _ = fixed.run(xi[:n], timing="lava")
        same = np.array_equal(lava[-1], ref_lava.numpy()) and all(
            np.array_equal(a, b.numpy()) for a, b in zip(lava[:-1], ref_spikes)
        )
        assert same, "Lava and the reference disagree"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--lava-samples", type=int, default=48, help="N: Lava on 1 and on N samples; 0: skip"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads (reference, float)")
    ap.add_argument(
        "--steps",
        action="store_true",
        help="also time the reference on PyTorch's steps (compiled=False), interleaved",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [measure(name, *spec, args) for name, spec in SHAPES.items()]
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, torch "
        f"{torch.__version__}, {args.threads} torch thread(s); batch {args.batch}, best of "
        f"{args.rounds} interleaved rounds; Lava per sample at steady state: N = "
        f"{args.lava_samples} samples less 1, compile included in brackets (outputs checked "
        "equal)\n"
    )
    print(
        "| network | reference samples/s | float samples/s | reference / float "
        "| Lava samples/s | reference / Lava | hidden spikes/neuron/step | float64 sums |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        lava = r.get("lava_sps")
        dens = ", ".join(f"{d:.3f}" for d in r["density"])
        paths = "".join("f" if p else "i" for p in r["float_paths"])
        lava_cols = "- | -"
        if lava:
            lava_cols = f"{lava:.2f} ({r['lava_sps_compile']:.2f}) | {r['ref_sps'] / lava:.0f}x"
        print(
            f"| {r['shape']} | {r['ref_sps']:.1f} | {r['float_sps']:.1f} | "
            f"{r['ref_sps'] / r['float_sps']:.2f}x | {lava_cols} | {dens} | {paths} |"
        )
    for r in rows:
        if "steps_sps" in r:
            print(
                f"\n{r['shape']}: reference on PyTorch's steps (compiled=False) "
                f"{r['steps_sps']:.1f} samples/s, compiled loop {r['ref_sps']:.1f} "
                f"({r['ref_sps'] / r['steps_sps']:.2f}x)"
            )


if __name__ == "__main__":
    main()
