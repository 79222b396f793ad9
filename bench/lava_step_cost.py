"""Cost of a Lava step: GammaNeuron vs Lava's own SigmaDelta, same shapes, same blocks.

Both networks are netx Dense/Conv blocks fed by a ring-buffer source with every block's
output recorded through an Extractor; only the neuron Process differs. They run in one process,
alternating, after a warm-up, so machine noise hits both alike. Reported: steps per
second of each and the ratio of step costs (GammaNeuron / SigmaDelta).

    python bench/lava_step_cost.py [--steps 300] [--rounds 3] [--K 8]
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
from common import timed_samples

import sg_lava  # noqa: F401
from sg_lava.model.network import GammaNetwork
from sg_lava.processes.builder import LavaNetwork
from sg_lava.reference.quantize import quantize_network

SHAPES = {
    "dense 700-256-256-20": {
        "input_shape": [700],
        "layers": [
            {"type": "dense", "out_features": 256},
            {"type": "dense", "out_features": 256},
            {"type": "dense", "out_features": 20},
        ],
    },
    "conv 2x32x32 c8-c16-d11": {
        "input_shape": [2, 32, 32],
        "layers": [
            {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1, "stride": 2},
            {"type": "conv", "out_channels": 16, "kernel_size": 3, "padding": 1, "stride": 2},
            {"type": "flatten"},
            {"type": "dense", "out_features": 11},
        ],
    },
}


class SigmaDeltaNetwork(LavaNetwork):
    """The same network — source, netx blocks, extractors — with Lava's SigmaDelta neurons."""

    def _params(self, layer) -> dict:
        from lava.proc.sdn.process import SigmaDelta

        return {
            "neuron_proc": SigmaDelta,
            "vth": 64,
            "num_message_bits": 24,
            "spike_exp": 0,
            "state_exp": 0,
        }


def measure(name: str, config: dict, steps: int, rounds: int, K: int) -> dict:
    torch.manual_seed(0)
    net = GammaNetwork({**config, "K": K})
    rng = np.random.default_rng(0)
    x = (rng.random((steps, *net.input_shape)) < 0.05).astype(np.int64)
    qnet, _ = quantize_network(net)
    xs = np.repeat(x[None], 2, axis=0)  # the first sample warms up, the second is timed
    times = {"GammaNeuron": [], "SigmaDelta": []}
    for _ in range(rounds):
        for label, cls in (("GammaNeuron", LavaNetwork), ("SigmaDelta", SigmaDeltaNetwork)):
            times[label].append(timed_samples(qnet, xs, network=cls)[1])
    best = {k: min(v) for k, v in times.items()}
    return {
        "shape": name,
        "K": K,
        "steps": steps,
        "gamma_sps": steps / best["GammaNeuron"],
        "sigma_sps": steps / best["SigmaDelta"],
        "ratio": best["GammaNeuron"] / best["SigmaDelta"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--K", type=int, default=8)
    args = ap.parse_args()
    rows = [measure(name, cfg, args.steps, args.rounds, args.K) for name, cfg in SHAPES.items()]
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}"
    )
    print(
        f"Lava CPU backend, Loihi2SimCfg(fixed_pt), {args.steps} steps, best of {args.rounds}, K={args.K}\n"
    )
    print(
        "| network | GammaNeuron steps/s | SigmaDelta steps/s | step cost ratio (Gamma / SigmaDelta) |"
    )
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['shape']} | {r['gamma_sps']:.0f} | {r['sigma_sps']:.0f} | {r['ratio']:.2f} |")


if __name__ == "__main__":
    main()
