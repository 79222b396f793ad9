"""Float accuracy with a model's weights rounded as the export rounds them.

A per-synapse layer is exported as K copies of its weights, ``W * V^k``, as mantissas of
``--bits`` bits, each copy on its own grid (``copy_exp``, ``per copy``); before format 2.0
one exponent held the whole layer (``shared``). This rounds the float model's weights both
ways (:func:`sg_lava.model.grid.on_weight_grid`, the rounding sg-export and training on the grid
use) and prints the float model's test accuracy for each: what the weight grid alone
costs, before any integer dynamics.

    python bench/weight_rounding.py MODEL.pt [--bits 8 9] [--n-test 300]
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch

from sg_lava.data.tasks import task_split
from sg_lava.deploy.pipeline import Pipeline
from sg_lava.model.grid import on_weight_grid
from sg_lava.training.loop import float_accuracy


@torch.no_grad()
def accuracy(pipe: Pipeline, data, bits: int | None, per_copy: bool) -> float:
    """Test accuracy of the float model with its synaptic weights on a ``bits``-bit grid."""
    net = copy.deepcopy(pipe.net)
    for layer in net.gamma_layers:
        layer.weight_bits = bits if per_copy else None
        if bits is not None and not per_copy and layer.per_synapse:
            w = layer.weight.unsqueeze(0).expand_as(layer.bucket_weight)
            q = on_weight_grid(w * layer.bucket_weight, bits, copies=False)
            layer.bucket_weight.copy_(torch.where(w != 0, q / w, torch.zeros_like(q)))
    return float_accuracy(net, data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--bits", type=int, nargs="+", default=[8, 9])
    ap.add_argument("--n-test", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(1)
    pipe = Pipeline(args.model)
    data = task_split(pipe.payload["task"], "test", args.n_test)
    print(f"{args.model.name}: float {accuracy(pipe, data, None, False):.4f}")
    for bits in args.bits:
        shared = accuracy(pipe, data, bits, False)
        per_copy = accuracy(pipe, data, bits, True)
        print(f"  {bits}-bit weights: one exponent {shared:.4f}, one per copy {per_copy:.4f}")


if __name__ == "__main__":
    main()
