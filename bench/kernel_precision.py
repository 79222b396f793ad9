"""How precisely a K-bucket gamma memory can time a delay, at each time resolution.

Bucket k's impulse response is the first bucket's geometric kernel (mean
``alpha_1 / (1 - alpha_1)`` steps, which can be 0) followed by ``k - 1`` stages, each a one-step
delay plus a geometric wait: mean ``m_j = 1 / (1 - alpha_j) >= 1`` steps, variance
``m_j**2 - m_j``. For a total mean delay of ``M`` physical steps at ``r`` steps per physical
step, the variance is smallest with the first bucket at 0 and equal stages, which gives the
narrowest kernel any training can reach::

    std_min = sqrt(max(0, M**2 / (k - 1) - M / r))     (physical steps)

At 1x a stage with alpha = 0 is an exact one-step delay, so a cascade can be a delay line
(std 0); at finer steps each stage must be r steps long on average, and the kernel tends to
the continuous gamma density, std ``M / sqrt(k - 1)``. This script prints that bound for
the delay-precise task's delay, checked against the moments of the equal-stage cascade
(``sg_lava.model.dynamics.kernel_moments``, tested against simulated impulse responses):

    python bench/kernel_precision.py [--delay 12] [--K 8 16 32] [--resolutions 1 2 4 8 16]
"""

from __future__ import annotations

import argparse
import math

import torch

from sg_lava.model import dynamics


def bound(delay: float, k: int, r: int) -> float:
    """Smallest std (physical steps) of bucket ``k``'s kernel with mean ``delay``, at ``r``."""
    return math.sqrt(max(0.0, delay**2 / (k - 1) - delay / r))


def equal_stages(delay: float, k: int, r: int) -> tuple[float, float]:
    """Mean and std (physical steps) of bucket ``k`` when the first bucket has alpha 0 and
    the stages share the delay equally (each at least one step: at 1x a short delay leaves
    stages unused, as a delay line would), from :func:`sg_lava.model.dynamics.kernel_moments`."""
    steps = delay * r
    used = min(k - 1, int(steps))
    alpha = torch.zeros(used + 1, dtype=torch.float64)
    alpha[1:] = 1.0 - used / steps  # each stage's mean: steps / used >= 1
    mean, std = dynamics.kernel_moments(alpha)
    return float(mean[-1]) / r, float(std[-1]) / r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=12.0, help="physical steps (delay-precise D)")
    ap.add_argument("--K", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    args = ap.parse_args()
    heads = " | ".join(f"{r}x" for r in args.resolutions)
    print(
        f"Narrowest kernel (std, physical steps) of the last bucket with mean delay {args.delay:g}"
    )
    print(f"\n| K | {heads} | continuous limit |\n|---|" + "---|" * (len(args.resolutions) + 1))
    for K in args.K:
        cells = []
        for r in args.resolutions:
            mean, std = equal_stages(args.delay, K, r)
            assert abs(mean - args.delay) < 1e-6 * args.delay, (mean, args.delay)
            assert abs(std - bound(args.delay, K, r)) < 1e-6 + 1e-6 * std, (std, K, r)
            cells.append(f"{std:.2f}")
        print(f"| {K} | " + " | ".join(cells) + f" | {args.delay / math.sqrt(K - 1):.2f} |")


if __name__ == "__main__":
    main()
