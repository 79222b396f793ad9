"""Loihi 2 plans of the reference networks of docs/loihi2.md, and the PilotNet check.

Writes, with random weights (placement does not depend on values), an SHD-shape network
(700-256-256-20, K = 8) and the DVS Gesture conv network of deploy_examples/dvs_gesture.py
(2x32x32, conv 8, pool 2, conv 16, pool 2, dense 11, K = 8) to ``--out``, so that
``sg-lava plan`` can be run on them; then prints the plan of PilotNet SDNN rebuilt as gamma
layers with K = 1 beside the per-layer core counts Lava's Loihi 2 compiler printed for it
(lava-dl, tutorials/lava/lib/dl/netx/pilotnet_sdnn/benchmark.ipynb).

    python bench/plan_examples.py --out /tmp/p
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import sg_lava  # noqa: F401
from sg_lava.data.recipes import conv_config
from sg_lava.export import hdf5
from sg_lava.export.neuron import GammaParams
from sg_lava.export.plan import format_plan, plan_network
from sg_lava.export.qnet import QuantizedNetwork, QuantLayer
from sg_lava.model.network import GammaNetwork
from sg_lava.reference.quantize import quantize_network

SHD = {
    "input_shape": [700],
    "layers": [
        {"type": "dense", "out_features": 256},
        {"type": "dense", "out_features": 256},
        {"type": "dense", "out_features": 20},
    ],
    "K": 8,
}
DVS = conv_config(32, (8, 16), 11)  # the network of deploy_examples/dvs_gesture.py

# Lava's Loihi 2 compiler, "Per core distribution" of PilotNet SDNN (benchmark.ipynb output),
# in network order: conv 24, 36, 48, 64, 64, dense 100, 50, 10, 1; total 61.
PILOTNET_PUBLISHED_CORES = [25, 13, 3, 3, 2, 12, 1, 1, 1]


def write_random(config: dict, path: Path) -> QuantizedNetwork:
    """Build ``config`` with seeded random weights, quantise it and write ``path``."""
    torch.manual_seed(0)
    qnet, _ = quantize_network(GammaNetwork(config))
    hdf5.write(qnet, path, {"source": "random weights (bench/plan_examples.py)"})
    return qnet


def _layer(kind, in_shape, shape, weight_shape, **geo) -> QuantLayer:
    """A K = 1 gamma layer of the given geometry with all-zero parameters."""
    C = shape[0]
    neuron = GammaParams.uniform(1, C, decay_out=2048)
    weight = np.zeros(weight_shape, dtype=np.int64)
    return QuantLayer(kind, in_shape, shape, weight, neuron, **geo)


def pilotnet() -> QuantizedNetwork:
    """PilotNet SDNN's shapes (the benchmark's printed table) as K = 1 gamma layers.

    A K = 1 gamma neuron keeps 3 state words (bucket, estimate, previous output), like a
    sigma-delta neuron (sigma, act, residue). Input 3x66x200 (C, H, W).
    """
    convs = [  # (out channels, in (C, H, W), out (H, W), stride (H, W), padding (H, W))
        (24, (3, 66, 200), (32, 99), (2, 2), (0, 0)),
        (36, (24, 32, 99), (15, 49), (2, 2), (0, 0)),
        (48, (36, 15, 49), (7, 24), (2, 2), (0, 0)),
        (64, (48, 7, 24), (4, 22), (2, 1), (1, 0)),
        (64, (64, 4, 22), (2, 20), (1, 1), (0, 0)),
    ]
    layers = [
        _layer("conv", cin, (c, *hw), (c, cin[0], 3, 3), stride=s, padding=p)
        for c, cin, hw, s, p in convs
    ]
    n_in = 64 * 2 * 20
    for i, n in enumerate((100, 50, 10, 1)):
        flat = (64, 2, 20) if i == 0 else None
        layers.append(_layer("dense", (n_in,), (n,), (n, n_in), flatten_from=flat))
        n_in = n
    layers[-1].neuron.is_output, layers[-1].neuron.decay_out = True, 0
    return QuantizedNetwork((3, 66, 200), layers)


def pilotnet_check() -> str:
    """The plan's cores per PilotNet layer beside the compiler's published ones."""
    plan = plan_network(pilotnet())
    lines = ["layer  shape            ours  published (Lava compiler)"]
    for p, pub in zip(plan.layers, PILOTNET_PUBLISHED_CORES):
        lines.append(f"{p.index:>5}  {str(p.shape):<15} {p.cores:>5}  {pub:>9}")
    total = sum(PILOTNET_PUBLISHED_CORES)
    lines.append(
        f"total  {'':<15} {plan.cores:>5}  {total:>9}   (ours / published = "
        f"{plan.cores / total:.2f})"
    )
    return format_plan(plan) + "\n\n" + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for shd.h5 and dvs.h5")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, config in (("shd", SHD), ("dvs", DVS)):
        path = out / f"{name}.h5"
        write_random(config, path)
        print(f"== {path}\n{format_plan(plan_network(hdf5.read(path)))}\n")
    print(f"== PilotNet SDNN (K = 1 gamma layers)\n{pilotnet_check()}")


if __name__ == "__main__":
    main()
