#!/usr/bin/env python
"""Spiking Heidelberg Digits (or SSC) through tonic: train online, export, run on Lava, verify.

Spikes of 700 cochlear channels are binned into --bins time steps with tonic's ToFrame;
a 700-H-classes SpikingGamma network learns the spoken digit online. The data folder
must hold tonic's layout (DATA/SHD/shd_train.h5 and shd_test.h5 with their .zip files);
if it does not, the script says where to get them. Nothing is downloaded.

    python deploy_examples/shd.py --data ~/data --out runs/shd [--bins 100] [--epochs 10]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from sg_lava.examples import example_parser, run_example


def main(argv=None) -> int:
    ap = example_parser(__doc__, "runs/shd")
    ap.add_argument("--data", required=True, help="folder that holds SHD/ (or SSC/)")
    ap.add_argument("--dataset", choices=("shd", "ssc"), default="shd")
    ap.add_argument("--bins", type=int, default=100, help="time steps per sample")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--K", type=int, default=8, help="gamma buckets per neuron")
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-train", type=int, default=None, help="use at most this many samples")
    ap.add_argument("--max-test", type=int, default=None)
    args = ap.parse_args(argv)

    def run() -> int:
        from sg_lava.datasets import load_hsd
        from sg_lava.pipeline import finish, train_and_deploy
        from sg_lava.recipes import dense_config
        from sg_lava.tasks import TaskData
        from sg_lava.training import TrainConfig

        test_split = "test"
        x, y = load_hsd(args.data, args.dataset, "train", args.bins, args.max_train, not args.quiet)
        xt, yt = load_hsd(
            args.data, args.dataset, test_split, args.bins, args.max_test, not args.quiet
        )
        n_classes = int(max(y.max(), yt.max())) + 1
        readout = torch.arange(args.bins) >= args.bins // 2  # the word is known by then
        train = TaskData(x, y, readout.expand(len(y), -1).clone(), n_classes)
        test = TaskData(xt, yt, readout.expand(len(yt), -1).clone(), n_classes)
        config = dense_config(
            x.shape[-1],
            [args.hidden],
            n_classes,
            K=args.K,
            F=0.5,
            theta0=0.1,
            per_synapse=args.per_synapse,
            timing="lava",
        )
        cfg = TrainConfig(
            mode=args.mode,
            epochs=args.epochs or 10,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
        )
        dep = train_and_deploy(
            args.dataset,
            config,
            train,
            test,
            Path(args.out),
            cfg,
            lava_samples=args.lava_samples,
            progress=not args.quiet,
        )
        return finish(dep, f"{args.dataset.upper()} on Lava ({args.bins} time steps)")

    return run_example("shd", run)


if __name__ == "__main__":
    sys.exit(main())
