"""``make demo``'s training step with the default threads against ``OMP_NUM_THREADS=1``.

Runs ``sg-lava demo`` (the command ``make demo`` runs) several times, alternating the
settings, while one spinning process per core but one keeps the rest of the machine busy
(``--idle``: no spinners), and reads the training time the demo prints ("trained in N s").
The settings: ``default`` (no thread variable: what a fresh clone does), ``omp1``
(``OMP_NUM_THREADS=1``) and ``omp2`` (``OMP_NUM_THREADS=2``, all cores of a 2-core
machine, which is what torch chose before sg-lava set a default).

    python bench/demo_threads.py [--repeats 2] [--epochs N] [--settings default omp1 omp2]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from threads import busy_cores  # noqa: E402  (bench/threads.py)

SETTINGS = {"default": None, "omp1": "1", "omp2": "2"}


def demo_training_seconds(threads: str | None, epochs: int | None) -> float:
    """The training time one ``sg-lava demo`` run prints."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    demo = Path(sys.executable).parent / "sg-lava"
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(demo), "demo", "--out", tmp, "--quiet", "--lava-samples", "4"]
        cmd += ["--epochs", str(epochs)] if epochs else []
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    m = re.search(r"trained in (\d+) s", res.stdout)
    if not m:
        raise SystemExit(f"sg-lava demo failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None, help="default: the demo's (20)")
    ap.add_argument("--settings", nargs="+", choices=SETTINGS, default=["default", "omp1"])
    ap.add_argument("--idle", action="store_true", help="no spinning processes")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    times: dict[str, list[float]] = {s: [] for s in args.settings}
    load = "idle" if args.idle else f"{cores - 1} other core(s) kept busy"
    print(f"{cores} cores, {load}, load average {os.getloadavg()[0]:.2f} at the start")
    with nullcontext() if args.idle else busy_cores(cores - 1):
        for r in range(args.repeats):
            for s in args.settings:
                times[s].append(demo_training_seconds(SETTINGS[s], args.epochs))
                print(f"run {r + 1} {s}: trained in {times[s][-1]:.0f} s", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    base = statistics.median(times["omp1"]) if "omp1" in times else None
    print("| setting | training s (median) | runs | vs OMP_NUM_THREADS=1 |")
    print("|---|---|---|---|")
    for s, t in times.items():
        ratio = f"{statistics.median(t) / base:.2f}x" if base else "-"
        runs = ", ".join(f"{v:.0f}" for v in t)
        print(f"| {s} | {statistics.median(t):.0f} | {runs} | {ratio} |")


if __name__ == "__main__":
    main()
