"""Datasets into the layout of ``sg-lava train --data`` (docs/data.md): ``sg-lava convert``.

:func:`convert_tonic` reads tonic dataset ``NAME`` (SHD, SSC, DVSGesture, NMNIST, ...; any letter case) from
where tonic keeps it — nothing is downloaded — and writes ``OUT/train.h5`` and
``OUT/test.h5`` one sample at a time, so memory holds one sample, not the dataset.
"""

from __future__ import annotations

import itertools
from pathlib import Path


def convert_tonic(name: str, data: str | Path, out: str | Path, limit: int | None = None) -> dict:
    """Write ``out/train.h5`` and ``out/test.h5`` from tonic dataset ``name``; sample counts."""
    from sg_lava.data.datasets import tonic_source
    from sg_lava.data.userdata import write_events
    from sg_lava.errors import UserError

    out = Path(out)  # made when the first file is written (sg_lava.files.atomic_write)
    counts = {}
    for split in ("train", "test"):
        source, size, _ = tonic_source(name, data, split)
        n = len(source) if limit is None else min(limit, len(source))
        samples = ((ev, int(label)) for ev, label in itertools.islice(source, n))
        counts[split] = write_events(out / f"{split}.h5", samples, size)
        if counts[split] == 0:
            raise UserError(f"{name} {split}: no samples in {data}")
    return counts
