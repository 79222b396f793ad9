"""Online training throughput at the SHD shape: samples per second on a device.

Network 700-256-256-20 (dense, K = 8, Lava timing), 100 time steps, batch 64, events with
5 % density, the readout over the second half; one warm-up batch, then ``--batches`` timed
batches of the trainer's own batch step (forward, per-step backward, Adam step).

    python bench/train_throughput.py [--device auto|cpu|cuda[:N]] [--batches 3]
"""

from __future__ import annotations

import argparse
import time

import torch

from sg_lava.devices import DEVICE_HELP, resolve_device
from sg_lava.network import GammaNetwork
from sg_lava.recipes import dense_config
from sg_lava.timing import pad_steps, shift_mask
from sg_lava.training import train_batch_online

SHAPE = (700, [256, 256], 20)
K, STEPS, BATCH = 8, 100, 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help=DEVICE_HELP)
    ap.add_argument("--batches", type=int, default=3)
    args = ap.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    net = GammaNetwork(dense_config(*SHAPE, K=K, theta0=0.5, timing="lava")).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(BATCH, STEPS, SHAPE[0], generator=g) < 0.05).float()
    y = torch.randint(SHAPE[2], (BATCH,), generator=g)
    mask = (torch.arange(STEPS) >= STEPS // 2).expand(BATCH, -1).clone()
    x, mask = pad_steps(x, net.latency).to(device), shift_mask(mask, net.latency).to(device)
    y = y.to(device)

    def batch() -> None:
        opt.zero_grad(set_to_none=True)
        train_batch_online(net, x, y, mask, "ce", SHAPE[2])
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
    rate = args.batches * BATCH / seconds
    print(
        f"online training, dense 700-256-256-20, K={K}, {STEPS} steps, batch {BATCH}, "
        f"{device} ({torch.get_num_threads()} threads): {rate:.1f} samples/s "
        f"({1000 * seconds / (args.batches * STEPS):.1f} ms/step)"
    )


if __name__ == "__main__":
    main()
