#!/usr/bin/env python
"""DVS Gesture through tonic: a convolutional SpikingGamma network, trained online, on Lava.

Events are down-sampled to --size x --size pixels and binned into --bins frames with
tonic's Downsample and ToFrame; a conv-pool-conv-pool-dense network learns the 11
gestures. The data folder must hold tonic's layout (DATA/DVSGesture/ibmGestureTrain/
and ibmGestureTest/ with their .tar.gz files); if it does not, the script says where to
get them. Nothing is downloaded.

    python deploy_examples/dvs_gesture.py --data ~/data --out runs/dvs [--size 32] [--bins 20]
        [--verify-samples 16] [--lava-workers 2]

The whole test split is evaluated through the exact integer reference (Pipeline.evaluate);
--verify-samples of it run on Lava, over --lava-workers runtimes, and are verified spike for spike.
"""

from __future__ import annotations

import sys

from sg_lava.cli.base import POSITIVE
from sg_lava.cli.examples import dataset_main, dataset_parser


def main(argv=None) -> int:
    ap = dataset_parser(__doc__, "runs/dvs_gesture", batch_size=16)
    ap.add_argument("--size", type=POSITIVE, default=32, help="pixels per side after down-sampling")
    ap.add_argument("--bins", type=POSITIVE, default=20, help="time steps per sample")
    ap.add_argument("--channels", type=POSITIVE, nargs=2, default=(8, 16), help="conv channels")
    args = ap.parse_args(argv)

    def build():
        import tonic

        from sg_lava.data.datasets import tonic_split
        from sg_lava.data.recipes import conv_config

        W, _, P = tonic.datasets.DVSGesture.sensor_size
        opts = {
            "bins": args.bins,
            "workers": args.workers,
            "cache": args.cache,
            "sensor_size": (args.size, args.size, P),
            "transform": tonic.transforms.Downsample(spatial_factor=args.size / W),
        }
        train = tonic_split("DVSGesture", args.data, "train", **opts).subset(args.max_train)
        test = tonic_split("DVSGesture", args.data, "test", **opts).subset(args.max_test)
        config = conv_config(
            args.size, tuple(args.channels), 11, K=args.K, per_synapse=args.per_synapse
        )
        title = f"DVS Gesture on Lava ({args.size}x{args.size}, {args.bins} steps)"
        return title, config, train, test

    return dataset_main("dvs_gesture", args, build, stored_test=2)


if __name__ == "__main__":
    sys.exit(main())
