"""Training throughput beside the tool users would pick instead: snnTorch, same data, same shape.

    pip install snntorch==1.0.0          # (or: pip install -e '.[bench]'); a benchmark dependency
    python bench/peer_training.py [--threads 1 2] [--rounds 3] [--batches 2] [--profile]

At the SHD shape (dense 700-256-256-20, 100 steps, batch 64, input events of 5 % density,
the loss at every step of the second half) each trainer runs its own batch step — forward,
backward, Adam step — in the same process, interleaved round by round so that a busy
machine slows all of them alike; the best round of each counts. Trainers:

- snnTorch 1.0.0, three ``nn.Linear`` + ``snn.Leaky`` layers, BPTT (the peer);
- sg-lava online (``train_batch_online``, K = 8, Lava timing; a backward per step);
- sg-lava BPTT (``train_batch_bptt``, the same network).

Prints samples per second and the ratio to snnTorch for each thread count. ``--profile``
adds torch's profiler table of one sg-lava online batch (where the time goes).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from sg_lava.data.recipes import dense_config
from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps, shift_mask
from sg_lava.training.steps import train_batch_bptt, train_batch_online

N_IN, HIDDEN, N_OUT = 700, 256, 20
K, STEPS, BATCH, DENSITY = 8, 100, 64, 0.05


def data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(BATCH, STEPS, N_IN, generator=g) < DENSITY).float()
    y = torch.randint(N_OUT, (BATCH,), generator=g)
    mask = (torch.arange(STEPS) >= STEPS // 2).expand(BATCH, -1).clone()
    return x, y, mask


def snntorch_step() -> Callable[[], None]:
    """One BPTT batch of the snnTorch peer."""
    import snntorch as snn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sizes = [N_IN, HIDDEN, HIDDEN, N_OUT]
            self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
            self.lif = nn.ModuleList(snn.Leaky(beta=0.9) for _ in self.fc)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mems = [lif.init_leaky() for lif in self.lif]
            out = []
            for t in range(x.shape[1]):
                s = x[:, t]
                for i, (fc, lif) in enumerate(zip(self.fc, self.lif)):
                    s, mems[i] = lif(fc(s), mems[i])
                out.append(mems[-1])
            return torch.stack(out, 1)

    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y, mask = data()
    labels = y.unsqueeze(1).expand_as(mask)[mask]

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        out = net(x)
        nn.functional.cross_entropy(out[mask], labels).backward()
        opt.step()

    return step


def sg_lava_step(mode: str) -> Callable[[], None]:
    """One batch of sg-lava's own trainer (``online`` or ``bptt``)."""
    torch.manual_seed(0)
    net = GammaNetwork(dense_config(N_IN, [HIDDEN, HIDDEN], N_OUT, K=K, theta0=0.5, timing="lava"))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y, mask = data()
    x, mask = pad_steps(x, net.latency), shift_mask(mask, net.latency)
    batch = train_batch_online if mode == "online" else train_batch_bptt

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        batch(net, x, y, mask, "ce", N_OUT)
        opt.step()

    return step


def measure(threads: int, rounds: int, batches: int) -> dict[str, float]:
    """Best samples/s of each trainer over interleaved rounds."""
    torch.set_num_threads(threads)
    steps = {
        "snnTorch BPTT": snntorch_step(),
        "sg-lava online": sg_lava_step("online"),
        "sg-lava BPTT": sg_lava_step("bptt"),
    }
    for step in steps.values():
        step()  # warm-up
    best = dict.fromkeys(steps, 0.0)
    for _ in range(rounds):
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(batches):
                step()
            best[name] = max(best[name], batches * BATCH / (time.perf_counter() - t0))
    return best


def profile() -> str:
    """torch's profiler table of one sg-lava online batch."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    step = sg_lava_step("online")
    step()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", type=int, default=2, help="timed batches per round")
    ap.add_argument("--profile", action="store_true", help="profile one sg-lava online batch")
    args = ap.parse_args()
    print(
        f"dense {N_IN}-{HIDDEN}-{HIDDEN}-{N_OUT}, {STEPS} steps, batch {BATCH}, "
        f"{DENSITY:.0%} input events; sg-lava K = {K}; best of {args.rounds} interleaved rounds"
    )
    for threads in args.threads:
        best = measure(threads, args.rounds, args.batches)
        peer = best["snnTorch BPTT"]
        print(f"\n{threads} thread(s)\n| trainer | samples/s | vs snnTorch |\n|---|---|---|")
        for name, rate in best.items():
            print(f"| {name} | {rate:.1f} | {rate / peer:.2f}x |")
    if args.profile:
        torch.set_num_threads(args.threads[0])
        print(profile())


if __name__ == "__main__":
    main()
