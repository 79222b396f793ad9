"""Convert a tonic dataset into the events layout of ``sg-lava train --data`` (docs/data.md).

    python -m sg_lava.convert tonic NAME DIR --out OUTDIR [--max N]

reads tonic dataset ``NAME`` (SHD, SSC, DVSGesture, NMNIST, ...) from ``DIR`` — where tonic
keeps it; nothing is downloaded — and writes ``OUTDIR/train.h5`` and ``OUTDIR/test.h5``
one sample at a time, so memory holds one sample, not the dataset.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

from sg_lava.cli import guarded


def convert_tonic(name: str, data: str | Path, out: str | Path, limit: int | None = None) -> dict:
    """Write ``out/train.h5`` and ``out/test.h5`` from tonic dataset ``name``; sample counts."""
    from sg_lava.datasets import tonic_source
    from sg_lava.errors import UserError
    from sg_lava.userdata import write_events

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in ("train", "test"):
        source, size, _ = tonic_source(name, data, split)
        n = len(source) if limit is None else min(limit, len(source))
        samples = ((ev, int(label)) for ev, label in itertools.islice(source, n))
        counts[split] = write_events(out / f"{split}.h5", samples, size)
        if counts[split] == 0:
            raise UserError(f"{name} {split}: no samples in {data}")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m sg_lava.convert", description=__doc__.splitlines()[0]
    )
    sub = ap.add_subparsers(dest="source", required=True)
    t = sub.add_parser("tonic", help="a tonic dataset already on disk")
    t.add_argument("name", help="tonic dataset class: SHD, SSC, DVSGesture, NMNIST, ...")
    t.add_argument("data", help="the folder tonic keeps it in (its save_to)")
    t.add_argument("--out", required=True, help="folder for train.h5 and test.h5")
    t.add_argument("--max", type=int, default=None, help="at most this many samples per split")
    args = ap.parse_args(argv)

    def run() -> int:
        counts = convert_tonic(args.name, args.data, args.out, args.max)
        print(f"wrote {args.out}/train.h5 ({counts['train']} samples), test.h5 ({counts['test']})")
        return 0

    return guarded("convert", run)


if __name__ == "__main__":
    sys.exit(main())
