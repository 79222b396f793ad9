#!/usr/bin/env python
"""Spiking Heidelberg Digits (or SSC) through tonic: train online, export, run on Lava, verify.

Spikes of 700 cochlear channels are binned into --bins time steps with tonic's ToFrame
while streaming (DataLoader workers, --workers; tonic's disk cache with --cache DIR);
a 700-H-classes SpikingGamma network learns the spoken word online. The data folder
must hold tonic's layout (DATA/SHD/shd_train.h5 and shd_test.h5 with their .zip files);
if it does not, the script says where to get them. Nothing is downloaded.

    python deploy_examples/shd.py --data ~/data --out runs/shd [--bins 100] [--epochs 10]
        [--verify-samples 64] [--lava-workers 2]

The whole test split is evaluated through the exact integer reference (Pipeline.evaluate);
--verify-samples of it run on Lava, over --lava-workers runtimes, and are verified spike for spike.
"""

from __future__ import annotations

import sys

from sg_lava.cli.base import POSITIVE
from sg_lava.cli.examples import dataset_main, dataset_parser


def main(argv=None) -> int:
    ap = dataset_parser(__doc__, "runs/shd", batch_size=64)
    ap.add_argument("--dataset", choices=("shd", "ssc"), default="shd")
    ap.add_argument("--bins", type=POSITIVE, default=100, help="time steps per sample")
    ap.add_argument("--hidden", type=POSITIVE, default=128)
    args = ap.parse_args(argv)

    def build():
        from sg_lava.data.datasets import tonic_split
        from sg_lava.data.recipes import dense_config

        name = args.dataset.upper()
        opts = {"bins": args.bins, "workers": args.workers, "cache": args.cache}
        train = tonic_split(name, args.data, "train", **opts).subset(args.max_train)
        test = tonic_split(name, args.data, "test", **opts).subset(args.max_test)
        n_classes = train.n_classes
        config = dense_config(
            700,
            [args.hidden],
            n_classes,
            K=args.K,
            F=0.5,
            theta0=1.0,
            per_synapse=args.per_synapse,
            timing="lava",
        )
        title = f"{args.dataset.upper()} on Lava ({args.bins} time steps)"
        return title, config, train, test

    return dataset_main(args.dataset, args, build)


if __name__ == "__main__":
    sys.exit(main())
