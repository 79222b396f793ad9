"""Real recordings through the documented path: convert, train, export, evaluate, verify.

    python bench/real_data.py [--datasets GunPoint ...] [--seeds 0 1 2] [--out runs/real_data]
        [--table docs/real_data.md] [--aeon DIR] [--lava-samples 16] [--threads 1] [--resume]

For each UEA/UCR set of the issue (GunPoint, JapaneseVowels_eq, ItalyPowerDemand, ArrowHead)
and each seed, exactly what a user runs, with the default recipe of ``--data`` runs:

    sg-lava convert ucr AEON/NAME/NAME_TRAIN.ts --out OUT/data/NAME
    sg-lava train --data OUT/data/NAME --net OUT/NAME/net.toml --out OUT/NAME/sS/model.pt --seed S
    sg-export OUT/NAME/sS/model.best.pt OUT/NAME/sS/net.h5
    sg-lava evaluate OUT/NAME/sS/model.best.pt OUT/NAME/sS/net.h5 --data OUT/data/NAME --json
    sg-lava verify OUT/NAME/sS/model.best.pt OUT/NAME/sS/net.h5 --samples 16 --workers 1

``net.toml`` holds only the input width and the layers (C-256-classes, dense): every other
setting is the recipe's (``DATA_RECIPE``). The best-validation model is the one deployed; the last epoch's
float accuracy is reported beside it. The UEA/UCR files come from the ``aeon`` wheel
(``pip download aeon==1.6.0 --no-deps``, or ``--aeon`` naming its unpacked
``aeon/datasets/data``), and so do the published anchors: the mean over 30 resamples of
InceptionTime and HC2 in ``aeon/testing/example_results_files/classification/accuracy``.
Rows go to OUT/rows.jsonl (``--resume`` keeps the finished ones), the table between the
markers of ``--table``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from rows import add_row, read_rows, write_table

DATASETS = ("GunPoint", "JapaneseVowels_eq", "ItalyPowerDemand", "ArrowHead")
BEGIN, END = "<!-- real data table -->", "<!-- end real data table -->"
BIN = Path(sys.executable).parent
WHEEL = "aeon==1.6.0"
HIDDEN = 256


def aeon_root(out: Path, given: str | None) -> Path:
    """The folder of aeon's bundled data and results: ``given``, or the wheel unpacked."""
    if given:
        return Path(given)
    root = out / "aeon"
    if not (root / "aeon" / "datasets" / "data").is_dir():
        wheels = out / "wheels"
        cmd = [sys.executable, "-m", "pip", "download", "-q", WHEEL, "--no-deps", "-d", str(wheels)]
        subprocess.run(cmd, check=True)
        wheel = next(wheels.glob("aeon-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            names = [n for n in z.namelist() if n.startswith(("aeon/datasets/data/", "aeon/testing/example_results_files/"))]  # fmt: skip
            z.extractall(root, names)
    return root / "aeon"


def anchors(aeon: Path, name: str) -> dict[str, float | None]:
    """Published mean accuracy over the resamples, per classifier (None: not listed)."""
    base = aeon / "testing" / "example_results_files" / "classification" / "accuracy"
    out: dict[str, float | None] = {}
    for clf in ("InceptionTime", "HC2"):
        out[clf] = None
        with open(base / f"{clf}_accuracy.csv") as f:
            for row in csv.reader(f):
                if row and row[0] == name:
                    out[clf] = statistics.fmean(float(v) for v in row[1:] if v)
    return out


def sg_lava(*args: str, threads: int) -> subprocess.CompletedProcess:
    """Run a console script; anything but success stops the benchmark (verify's exit 1 on a
    mismatch is a result: its caller reads it)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    res = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, env=env)
    allowed = (0, 1) if "verify" in args[:2] else (0,)
    if res.returncode not in allowed:
        raise SystemExit(f"{' '.join(args)} failed:\n{res.stderr[-2000:]}")
    return res


def net_toml(channels: int, classes: int, theta0: float | None = None) -> str:
    """The benchmark's network: dense C-256-classes, the data recipe's settings (``theta0``:
    another spike threshold)."""
    code = "" if theta0 is None else f"theta0 = {theta0!r}\n"
    return (
        f'input_shape = [{channels}]\n{code}\n[[layers]]\ntype = "dense"\nout_features = {HIDDEN}\n\n'
        f'[[layers]]\ntype = "dense"\nout_features = {classes}\n'
    )


def run_one(name: str, seed: int, data: Path, folder: Path, args) -> dict:
    """Train, export, evaluate and verify one (dataset, seed); returns its row."""
    run = folder / f"s{seed}"
    run.mkdir(parents=True, exist_ok=True)
    model, best, net = run / "model.pt", run / "model.best.pt", run / "net.h5"
    start = time.perf_counter()
    train = ["train", "--data", str(data), "--net", str(folder / "net.toml"), "--out", str(model)]
    train += ["--overwrite"]  # a run this benchmark left unfinished is done again
    sg_lava("sg-lava", *train, "--seed", str(seed), "--quiet", threads=args.threads)
    seconds = time.perf_counter() - start
    deployed = best if best.is_file() else model
    sg_lava("sg-export", str(deployed), str(net), threads=args.threads)
    ev = sg_lava("sg-lava", "evaluate", str(deployed), str(net), "--data", str(data), "--json", threads=args.threads)  # fmt: skip
    report = json.loads(ev.stdout)
    last = json.loads(sg_lava("sg-lava", "evaluate", str(model), str(net), "--data", str(data), "--json", threads=args.threads).stdout)  # fmt: skip
    ver = sg_lava(
        "sg-lava", "verify", str(deployed), str(net), "--samples", str(args.lava_samples),
        "--workers", "1", threads=args.threads,
    )  # fmt: skip
    line = ver.stdout.strip().splitlines()[-1]
    return {
        "dataset": name,
        "seed": seed,
        "float": report["float_accuracy"],
        "fixed": report["fixed_accuracy"],
        "last_float": last["float_accuracy"],
        "spikes_per_neuron_step": report["spikes_per_neuron_step"]["total"],
        "synops_per_inference": report["synops_per_inference"]["total"],
        "verify": line,
        "verified": ver.returncode == 0 and "(100.00%)" in line,
        "train_seconds": round(seconds, 1),
    }


def spread(values: list[float]) -> str:
    """``median [min-max]`` of a few numbers."""
    if not values:
        return "-"
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def table(rows: list[dict], published: dict[str, dict]) -> str:
    head = (
        "| dataset | float (best valid.) | float (last epoch) | exported fixed point | Lava = reference "
        "| hidden spikes / neuron / step | train s | InceptionTime | HC2 |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        pub = published.get(name, {})
        anchor = [f"{pub[k]:.3f}" if pub.get(k) is not None else "n/a" for k in ("InceptionTime", "HC2")]  # fmt: skip
        lines.append(
            f"| {name} ({len(mine)} seeds) | {spread([r['float'] for r in mine])} "
            f"| {spread([r['last_float'] for r in mine])} | {spread([r['fixed'] for r in mine])} "
            f"| {sum(r['verified'] for r in mine)}/{len(mine)} "
            f"| {spread([r['spikes_per_neuron_step'] for r in mine if r['spikes_per_neuron_step'] is not None])} "
            f"| {statistics.median(r['train_seconds'] for r in mine):.0f} | {anchor[0]} | {anchor[1]} |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default="runs/real_data")
    ap.add_argument("--table", default=None, help="markdown file for the table (its markers)")
    ap.add_argument("--aeon", default=None, help="aeon's unpacked package folder (else fetched)")
    ap.add_argument("--lava-samples", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true", help="keep the rows of OUT/rows.jsonl")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    aeon = aeon_root(out, args.aeon)
    rows_file = out / "rows.jsonl"
    rows = read_rows(rows_file, args.resume)
    done = {(r["dataset"], r["seed"]) for r in rows}
    published = {}
    for name in args.datasets:
        published[name] = anchors(aeon, name.removesuffix("_eq"))
        data = out / "data" / name
        source = aeon / "datasets" / "data" / name.removesuffix("_eq") / f"{name}_TRAIN.ts"
        if not (data / "train.npz").is_file():
            sg_lava("sg-lava", "convert", "ucr", str(source), "--out", str(data), threads=1)
        info = json.loads((data / "normalisation.json").read_text())
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "net.toml").write_text(net_toml(info["channels"], len(info["classes"])))
        for seed in args.seeds:
            if (name, seed) in done:
                continue
            add_row(rows_file, rows, run_one(name, seed, data, folder, args))
    text = table([r for r in rows if r["dataset"] in args.datasets], published)
    print(text)
    if args.table:
        command = f"python bench/real_data.py --table {args.table}"
        write_table(Path(args.table), BEGIN, END, text, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
