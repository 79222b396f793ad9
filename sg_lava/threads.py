"""CPU threads of torch and the integer reference: ``--threads N`` and the default (torch-free).

The networks sg-lava trains step by step are small: a step's matrices are too small to split
well, so threads mostly wait on each other, and on a machine whose other cores are busy
they wait for those cores too. On the shared 2-core machine ``bench/threads.py`` measured a
128-sample epoch of the delay task at 0.22 s with one thread and 12.4 s with two (0.70 and
28.2 s with the other core kept busy), and every network up to the SHD shape trained and ran
its float model fastest on one; only the integer reference of the larger networks gained
from a second thread, at most 1.5x (``docs/benchmarks.md``). One thread is therefore the
default, for every command and every ``torchrun`` rank; ``--threads N`` (or
``OMP_NUM_THREADS``) asks for more, e.g. on an idle many-core machine.
"""

from __future__ import annotations

import os
import sys

DEFAULT_THREADS = 1
ENV = "OMP_NUM_THREADS"  # read by torch's and numba's thread pools when they start


def resolve_threads(requested: int | None = None) -> int:
    """``requested`` if given, else ``OMP_NUM_THREADS`` if set to a positive integer, else
    :data:`DEFAULT_THREADS`."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"threads must be at least 1, got {requested}")
        return int(requested)
    try:
        from_env = int(os.environ.get(ENV, ""))
    except ValueError:
        return DEFAULT_THREADS
    return from_env if from_env >= 1 else DEFAULT_THREADS


def set_threads(requested: int | None = None) -> int:
    """Use :func:`resolve_threads` threads from now on; returns the number.

    Sets ``OMP_NUM_THREADS`` (torch not yet imported reads it when it loads, and so do the
    processes this one starts: Lava's runtimes, DataLoader workers) and, once torch is
    loaded, ``torch.set_num_threads``; the integer reference's compiled loops follow torch.
    """
    n = resolve_threads(requested)
    os.environ[ENV] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
    return n
