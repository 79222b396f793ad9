"""Float accuracy with a per-synapse model's weight products rounded as the export rounds them.

A per-synapse layer is exported as K copies of its weights, ``W * V^k``, as mantissas of
``--bits`` bits under one exponent for the whole layer (``shared``). This rounds the float
model's products that way, or with one exponent per bucket copy (``per-bucket``), and
prints the float model's test accuracy for each: what the weight grid alone costs, before
any integer dynamics.

    python bench/weight_rounding.py MODEL.pt [--bits 8 9] [--n-test 300]
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch

from sg_lava.pipeline import Pipeline
from sg_lava.quantize import quantize_weight
from sg_lava.tasks import task_split
from sg_lava.training import float_accuracy


def rounded(products: torch.Tensor, bits: int, per_bucket: bool) -> torch.Tensor:
    """``products`` (K, ...) as values of the export's weight mantissas
    (:func:`sg_lava.quantize.quantize_weight`): one exponent for all, or one per bucket copy.
    (The export may lower the exponent further to keep synaptic sums in range.)"""

    def value(w: np.ndarray) -> np.ndarray:
        m, exp, _, _ = quantize_weight(w, bits)
        return m * 2.0**-exp

    p = products.double().numpy()
    q = np.stack([value(copy) for copy in p]) if per_bucket else value(p)
    return torch.from_numpy(q).to(products.dtype)


@torch.no_grad()
def accuracy(pipe: Pipeline, data, bits: int | None, per_bucket: bool) -> float:
    """Test accuracy of the float model with every per-synapse layer's products rounded."""
    net = copy.deepcopy(pipe.net)
    if bits is not None:
        for layer in net.layers:
            if not layer.per_synapse:
                continue
            w = layer.weight.unsqueeze(0).expand_as(layer.bucket_weight)
            q = rounded(w * layer.bucket_weight, bits, per_bucket)
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
        per_bucket = accuracy(pipe, data, bits, True)
        print(f"  {bits}-bit products: shared exponent {shared:.4f}, per bucket {per_bucket:.4f}")


if __name__ == "__main__":
    main()
