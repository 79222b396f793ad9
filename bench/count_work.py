"""Count how often a command loads, quantises, runs the reference and builds Lava.

    python bench/count_work.py verify model.pt net.h5

Runs ``sg-lava <args>`` under cProfile and prints the call counts of the steps that
``docs/architecture.md`` promises to do once (issue 11's before/after table). Lava builds in
``verify --workers`` shards happen in forked processes: count with ``--workers 1``.
"""

from __future__ import annotations

import cProfile
import pstats
import sys

from sg_lava.cli import main

WATCH = {  # label: (file, function)
    "model loaded": ("modelfile.py", "read_model_file"),
    "quantised": ("quantize.py", "quantize_network"),
    "_quantize passes": ("quantize.py", "_quantize"),
    "fold_pooling": ("quantize.py", "fold_pooling"),
    "reference runs": ("fixed.py", "run"),
}


def count(argv: list[str]) -> tuple[int, dict[str, int]]:
    """The command's exit code and the number of calls of each watched step."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        rc = main(argv)
    finally:
        profile.disable()
    from sg_lava.processes.builder import LavaNetwork

    build = LavaNetwork.__init__.__code__
    counts = dict.fromkeys([*WATCH, "Lava builds"], 0)
    for (file, line, func), (_, calls, *_rest) in pstats.Stats(profile).stats.items():
        for label, (name, fn) in WATCH.items():
            if func == fn and file.endswith(name):
                counts[label] += calls
        if (file, line) == (build.co_filename, build.co_firstlineno):
            counts["Lava builds"] += calls
    return rc, counts


if __name__ == "__main__":
    rc, counts = count(sys.argv[1:])
    print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    sys.exit(rc)
