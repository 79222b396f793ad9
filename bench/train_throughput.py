"""Online training throughput at the SHD shape: samples per second on a device.

Network 700-256-256-20 (dense, K = 8, Lava timing), 100 time steps, batch 64, events with
5 % density, the readout over the second half; one warm-up batch, then ``--batches`` timed
batches of the trainer's own batch step (forward, per-step backward, Adam step).
``--recipe TASK --resolution R`` times a built-in recipe's network on its own task instead
(e.g. delay-precise at 16x: 2-128-3, K = 16 per synapse, 962 steps).

    python bench/train_throughput.py [--device auto|cpu|cuda[:N]] [--batches 3]
        [--recipe TASK --resolution R]
"""

from __future__ import annotations

import argparse
import time

import torch

from sg_lava.data.recipes import dense_config, recipe
from sg_lava.data.tasks import make_task
from sg_lava.devices import DEVICE_HELP, resolve_device
from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps, shift_mask
from sg_lava.training.experiment import recipe_config
from sg_lava.training.steps import train_batch_online

SHAPE = (700, [256, 256], 20)
K, STEPS, BATCH = 8, 100, 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help=DEVICE_HELP)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--recipe", default=None, help="a built-in task's recipe network")
    ap.add_argument("--resolution", type=int, default=1)
    args = ap.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    if args.recipe:
        net, x, y, mask, name = recipe_batch(args.recipe, args.resolution)
    else:
        net = GammaNetwork(dense_config(*SHAPE, K=K, theta0=0.5, timing="lava"))
        g = torch.Generator().manual_seed(1)
        x = (torch.rand(BATCH, STEPS, SHAPE[0], generator=g) < 0.05).float()
        y = torch.randint(SHAPE[2], (BATCH,), generator=g)
        mask = (torch.arange(STEPS) >= STEPS // 2).expand(BATCH, -1).clone()
        name = f"dense 700-256-256-20, K={K}"
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    n_out, batch_size, steps = net.shapes[-1][1][0], x.shape[0], x.shape[1]
    x, mask = pad_steps(x, net.latency).to(device), shift_mask(mask, net.latency).to(device)
    y = y.to(device)

    def batch() -> None:
        opt.zero_grad(set_to_none=True)
        train_batch_online(net, x, y, mask, "ce", n_out)
        opt.step()

    batch()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(args.batches):
        batch()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    rate = args.batches * batch_size / seconds
    print(
        f"online training, {name}, {steps} steps, batch {batch_size}, "
        f"{device} ({torch.get_num_threads()} threads): {rate:.1f} samples/s "
        f"({1000 * seconds / (args.batches * steps):.2f} ms/step)"
    )


def recipe_batch(task: str, resolution: int) -> tuple:
    """The network and one training batch of a built-in recipe at ``resolution``."""
    r = recipe(task)
    data = make_task(task, r["train"]["batch_size"], seed=0, **r["task"], resolution=resolution)
    config = recipe_config(task, data.x.shape[-1], data.n_classes, resolution)
    sizes = "-".join(str(n) for n in [data.x.shape[-1], *r["hidden"], data.n_classes])
    name = f"{task} {resolution}x, dense {sizes}, K={config['K']}"
    return GammaNetwork(config), data.x, data.y, data.mask, name


if __name__ == "__main__":
    main()
