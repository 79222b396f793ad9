#!/usr/bin/env python
"""DVS Gesture through tonic: a convolutional SpikingGamma network, trained online, on Lava.

Events are down-sampled to --size x --size pixels and binned into --bins frames with
tonic's Downsample and ToFrame; a conv-pool-conv-pool-dense network learns the 11
gestures. The data folder must hold tonic's layout (DATA/DVSGesture/ibmGestureTrain/
and ibmGestureTest/ with their .tar.gz files); if it does not, the script says where to
get them. Nothing is downloaded.

    python deploy_examples/dvs_gesture.py --data ~/data --out runs/dvs [--size 32] [--bins 20]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from sg_lava.examples import example_parser, run_example


def conv_config(
    size: int, channels: tuple[int, int], n_classes: int, K: int, per_synapse: bool
) -> dict:
    """conv3x3 - sum-pool 2 - conv3x3 - sum-pool 2 - flatten - dense."""
    c1, c2 = channels
    return {
        "input_shape": [2, size, size],
        "layers": [
            {"type": "conv", "out_channels": c1, "kernel_size": 3, "padding": 1},
            {"type": "pool", "kernel_size": 2},
            {"type": "conv", "out_channels": c2, "kernel_size": 3, "padding": 1},
            {"type": "pool", "kernel_size": 2},
            {"type": "flatten"},
            {"type": "dense", "out_features": n_classes},
        ],
        "K": K,
        "F": 0.5,
        "theta0": 0.1,
        "per_synapse": per_synapse,
        "timing": "lava",
    }


def main(argv=None) -> int:
    ap = example_parser(__doc__, "runs/dvs_gesture")
    ap.add_argument("--data", required=True, help="folder that holds DVSGesture/")
    ap.add_argument("--size", type=int, default=32, help="pixels per side after down-sampling")
    ap.add_argument("--bins", type=int, default=20, help="time steps per sample")
    ap.add_argument("--channels", type=int, nargs=2, default=(8, 16), help="conv channels")
    ap.add_argument("--K", type=int, default=4, help="gamma buckets per neuron")
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-train", type=int, default=None)
    ap.add_argument("--max-test", type=int, default=None)
    args = ap.parse_args(argv)

    def run() -> int:
        from sg_lava.datasets import load_dvs_gesture
        from sg_lava.pipeline import finish, train_and_deploy
        from sg_lava.tasks import TaskData
        from sg_lava.training import TrainConfig

        q = not args.quiet
        x, y = load_dvs_gesture(args.data, True, args.bins, args.size, args.max_train, q)
        xt, yt = load_dvs_gesture(args.data, False, args.bins, args.size, args.max_test, q)
        readout = torch.arange(args.bins) >= args.bins // 2
        train = TaskData(x, y, readout.expand(len(y), -1).clone(), 11)
        test = TaskData(xt, yt, readout.expand(len(yt), -1).clone(), 11)
        config = conv_config(args.size, tuple(args.channels), 11, args.K, args.per_synapse)
        cfg = TrainConfig(
            mode=args.mode,
            epochs=args.epochs or 10,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
        )
        dep = train_and_deploy(
            "dvs_gesture",
            config,
            train,
            test,
            Path(args.out),
            cfg,
            verify_samples=2,
            lava_samples=args.lava_samples,
            progress=q,
        )
        return finish(dep, f"DVS Gesture on Lava ({args.size}x{args.size}, {args.bins} steps)")

    return run_example("dvs_gesture", run)


if __name__ == "__main__":
    sys.exit(main())
