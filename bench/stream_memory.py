"""Peak memory of streamed training data: 1x vs 10x finer time bins, against materialising.

Writes a small SHD-format dataset (tests/helpers.py ``write_hsd``: the real HDF5 layout,
700 channels) and, for each number of bins in a fresh process, trains a 700-H-4 network
(K=4, online) for one epoch on it through :func:`sg_lava.data.datasets.tonic_split` (DataLoader,
``--workers`` processes binning with tonic's ToFrame). Reported: the peak resident set of
the training process and of the largest worker, and what the old loader's single dense
tensor of the split would have taken (n x bins x 700 float32).

    python bench/stream_memory.py [--bins 100 1000] [--samples 256] [--batch 32]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(data: str, bins: int, batch: int, hidden: int, workers: int) -> dict:
    import torch

    from sg_lava.data.datasets import tonic_split
    from sg_lava.data.recipes import dense_config
    from sg_lava.model.network import GammaNetwork
    from sg_lava.training.config import TrainConfig
    from sg_lava.training.loop import train

    torch.set_num_threads(1)
    torch.manual_seed(0)
    split = tonic_split("SHD", data, "train", bins, workers=workers)
    net = GammaNetwork(dense_config(700, [hidden], 4, K=4, theta0=1.0))
    start = time.perf_counter()
    train(net, split, TrainConfig(epochs=1, batch_size=batch), progress=False)
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    workers_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {
        "bins": bins,
        "samples": len(split),
        "peak_rss_mb": round(self_mb, 1),
        "worker_peak_rss_mb": round(workers_mb, 1),
        "dense_split_mb": round(len(split) * bins * 700 * 4 / 2**20, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bins", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--child", nargs=5, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        data, bins, batch, hidden, workers = args.child
        print(json.dumps(child(data, int(bins), int(batch), int(hidden), int(workers))))
        return
    sys.path.insert(0, str(ROOT))
    from tests.helpers import write_hsd

    with tempfile.TemporaryDirectory() as data:
        write_hsd(data, split="train", n=args.samples, seed=0)
        rows = []
        for bins in args.bins:
            cmd = [sys.executable, __file__, "--child", data, str(bins), str(args.batch)]
            out = subprocess.run(
                [*cmd, str(args.hidden), str(args.workers)], capture_output=True, text=True
            )
            if out.returncode != 0:
                sys.exit(out.stderr[-2000:])
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"# {platform.processor() or platform.machine()}, batch {args.batch}, 700-{args.hidden}-4, K=4"
    )
    print("| bins | samples | peak RSS MB | worker peak MB | dense split MB | epoch s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['bins']} | {r['samples']} | {r['peak_rss_mb']} | {r['worker_peak_rss_mb']} "
            f"| {r['dense_split_mb']} | {r['seconds']} |"
        )
    ratio = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print(f"peak RSS {args.bins[-1]} vs {args.bins[0]} bins: {ratio:.2f}x")


if __name__ == "__main__":
    main()
