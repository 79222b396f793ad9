"""Datasets into the layout of ``sg-lava train --data`` (docs/data.md): ``sg-lava convert``.

:func:`convert_tonic` reads tonic dataset ``NAME`` (SHD, SSC, DVSGesture, NMNIST, ...; any letter case) from
where tonic keeps it — nothing is downloaded — and writes ``OUT/train.h5`` and
``OUT/test.h5`` one sample at a time, so memory holds one sample, not the dataset. A
conversion that fails leaves nothing: no split it wrote, no folder it made.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from sg_lava.errors import UserError
from sg_lava.files import check_destination, make_folders, remove_folders

SPLITS = ("train", "test")


def convert_tonic(name: str, data: str | Path, out: str | Path, limit: int | None = None) -> dict:
    """Write ``out/train.h5`` and ``out/test.h5`` from tonic dataset ``name``; sample counts."""
    from sg_lava.data.datasets import tonic_source
    from sg_lava.data.userdata import write_events

    if limit is not None and limit < 1:
        raise UserError(f"--max must be at least 1, got {limit}")
    out = Path(out)
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    made = make_folders(out)
    written: list[Path] = []
    try:
        paths = [check_destination(out / f"{split}.h5") for split in SPLITS]
        counts = {}
        for split, path in zip(SPLITS, paths):
            source, size, _ = tonic_source(name, data, split)
            n = len(source) if limit is None else min(limit, len(source))
            if n == 0:
                raise UserError(f"{name} {split}: no samples in {data}")
            samples = ((ev, int(label)) for ev, label in itertools.islice(source, n))
            existed = path.exists()
            counts[split] = write_events(path, samples, size)
            if not existed:
                written.append(path)
        return counts
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        remove_folders(made)  # while empty: what was put there meanwhile stays
        raise
