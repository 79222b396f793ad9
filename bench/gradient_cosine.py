"""How close is the online gradient to the BPTT gradient? Cosine per parameter group.

For 2- and 3-layer dense networks on the ``delay-precise`` task at 1x, 4x and 16x finer
time steps (decays ``alpha ** (1/r)``, as ``train_task`` does), one batch in float64:
the BPTT gradient of the per-step loss summed over steps, and the online gradient with
each credit (``step``: the current step only, as before; ``alpha``: exact alpha traces;
``traces``: plus exact credit across one layer boundary). Writes a markdown table.

    python bench/gradient_cosine.py [--out docs/online_credit_table.md] [--batch 32]
"""

from __future__ import annotations

import argparse
import datetime
import sys

import torch

from sg_lava.data.recipes import dense_config, recipe
from sg_lava.data.tasks import make_task
from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps, shift_mask
from sg_lava.training.config import CREDITS
from sg_lava.training.steps import train_batch_bptt, train_batch_online

GROUPS = ("weight", "bias", "bucket_weight", "alpha_logit")


def network(hidden: list[int], resolution: int, seed: int, theta0: float) -> GammaNetwork:
    """The delay-precise recipe's neurons with the given hidden sizes, in float64.

    ``theta0`` below the recipe's makes an untrained network's hidden layers spike, so
    that every layer has a gradient to compare.
    """
    neuron = recipe("delay-precise")["network"]
    neuron = {**neuron, "F": neuron["F"] / resolution, "theta0": theta0}
    torch.manual_seed(seed)
    return GammaNetwork(dense_config(2, hidden, 3, **neuron)).double()


def gradients(net: GammaNetwork, fn, *args, **kw) -> dict[str, torch.Tensor]:
    net.zero_grad()
    fn(net, *args, **kw)
    return {n: p.grad.detach().clone() for n, p in net.named_parameters()}


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def measure(hidden: list[int], resolution: int, batch: int, seed: int, theta0: float) -> dict:
    """Cosines per (layer, group) for every credit, on one batch."""
    net = network(hidden, resolution, seed, theta0)
    params = {**recipe("delay-precise")["task"], "resolution": resolution}
    data = make_task("delay-precise", batch, seed=seed + 100, **params)
    x = pad_steps(data.x.double(), net.latency)
    mask = shift_mask(data.mask, net.latency)
    ref = gradients(net, train_batch_bptt, x, data.y, mask, "ce", 3)
    out = {}
    for credit in CREDITS:
        got = gradients(net, train_batch_online, x, data.y, mask, "ce", 3, credit=credit)
        out[credit] = {n: cosine(got[n], ref[n]) for n in ref}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="markdown file for the table")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--resolutions", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--theta0", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, default=2, help="batches (and inits) averaged")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    lines = [
        "| network | resolution | parameter | step (before) | alpha | traces (after) |",
        "|---|---|---|---|---|---|",
    ]
    for depth in (2, 3):
        hidden = [args.hidden] * (depth - 1)
        name = "-".join(map(str, [2, *hidden, 3]))
        for r in args.resolutions:
            runs = [measure(hidden, r, args.batch, s, args.theta0) for s in range(args.seeds)]
            for n in runs[0]["step"]:
                row = [sum(run[c][n] for run in runs) / len(runs) for c in CREDITS]
                layer, group = n.split(".")[1], n.split(".")[2]
                cells = " | ".join(f"{v:.3f}" for v in row)
                lines.append(f"| {name} | {r}x | L{int(layer) + 1} {group} | {cells} |")
            print("\n".join(lines[-4 * depth :]), flush=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python bench/gradient_cosine.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = f"Measured {stamp} with `{cmd.strip()}` (batch {args.batch}, theta0 {args.theta0}, "
    text += f"mean of {args.seeds} batches).\n\n"
    text += "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
