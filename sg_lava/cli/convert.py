"""``sg-lava convert``: datasets into the ``--data`` layout (also ``python -m sg_lava.convert``)."""

from __future__ import annotations

import argparse

from sg_lava.cli.base import POSITIVE, add_command


def tonic(args: argparse.Namespace) -> int:
    from sg_lava.data.convert import convert_tonic

    counts = convert_tonic(args.name, args.data, args.out, args.max)
    print(f"wrote {args.out}/train.h5 ({counts['train']} samples), test.h5 ({counts['test']})")
    return 0


def ucr(args: argparse.Namespace) -> int:
    from sg_lava.data.ucr import convert_ucr

    counts = convert_ucr(args.path, args.out)
    print(
        f"wrote {args.out}/train.npz ({counts['train']} samples), test.npz ({counts['test']}), "
        "normalisation.json"
    )
    return 0


TONIC_EXAMPLES = """
sg-lava convert tonic SHD ~/data --out data/shd
sg-lava convert tonic nmnist ~/data --out data/nmnist --max 1000
"""
UCR_EXAMPLES = "sg-lava convert ucr ~/ucr/GunPoint --out data/gunpoint"


def register(sub) -> None:
    conv = add_command(
        sub,
        "convert",
        "convert a dataset into the --data layout",
        TONIC_EXAMPLES + UCR_EXAMPLES,
        "Writes OUT/train.* and OUT/test.* for sg-lava train --data OUT (docs/data.md), from\n"
        "files already on disk: nothing is downloaded.",
    )
    kinds = conv.add_subparsers(dest="source", required=True, metavar="SOURCE")
    t = add_command(
        kinds,
        "tonic",
        "a tonic dataset already on disk, read where tonic keeps it",
        TONIC_EXAMPLES,
        "Writes OUT/train.h5 and OUT/test.h5 in the events layout of docs/data.md, one sample\n"
        "at a time, for sg-lava train --data OUT --bins N. Nothing is downloaded.",
    )
    t.add_argument(
        "name", help="tonic dataset class, any letter case: SHD, SSC, DVSGesture, NMNIST, ..."
    )
    t.add_argument("data", help="the folder tonic keeps it in (its save_to)")
    t.add_argument("--out", required=True, help="folder for train.h5 and test.h5")
    t.add_argument(
        "--max",
        type=POSITIVE,
        default=None,
        help="at most this many samples per split (default: all)",
    )
    t.set_defaults(func=tonic)
    u = add_command(
        kinds,
        "ucr",
        "UEA/UCR archive .ts files (NAME_TRAIN.ts, NAME_TEST.ts), z-scored per channel",
        UCR_EXAMPLES,
        "Reads NAME_TRAIN.ts and NAME_TEST.ts (univariate or multivariate, equal or unequal\n"
        "length) into train.npz and test.npz, each channel z-scored with the training\n"
        "statistics (kept in normalisation.json).",
    )
    u.add_argument("path", help="a folder with NAME_TRAIN.ts and NAME_TEST.ts, or one of them")
    u.add_argument(
        "--out", required=True, help="folder for train.npz, test.npz and normalisation.json"
    )
    u.set_defaults(func=ucr)
