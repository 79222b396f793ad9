"""Accuracy against spikes: the trade-off that a spike cost buys, measured end to end.

    python bench/sparsity.py [--cells dp1 dp4 echo1 GunPoint ...] [--costs 0 0.03 0.1 0.3]
        [--thetas 0.1 0.2 0.4 0.8] [--seeds 0 1 2] [--mode bptt] [--out runs/sparsity]
        [--table docs/sparsity.md] [--plot docs/sparsity.png] [--threads 1] [--resume]
        [--table-only]

Each cell is trained through the command line a user runs, once per setting of its knob and
seed: a built-in task at a resolution with each spike cost (``sg-lava train TASK
--spike-cost L``); a UEA/UCR set of ``bench/real_data.py``, whose data recipe fits its
readout in closed form (``--mode ridge``, no gradient to carry a cost), with each spike
threshold ``theta0`` of its ``net.toml``. The best-validation model is exported and
measured: float and exported fixed-point test accuracy and the file's hidden spikes per
neuron per step and synaptic operations per inference on the whole test set
(``sg-lava evaluate --json``), ``sg-lava verify`` on a few test samples (Lava against the
reference, spike for spike), and ``sg-lava plan``'s energy and time per inference. Rows go
to OUT/rows.jsonl (``--resume`` keeps them), the table of medians between the markers of
``--table``, and a picture of accuracy against spikes to ``--plot``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from real_data import DATASETS, aeon_root, net_toml, sg_lava
from rows import add_row, read_rows, write_table

TASKS = {"dp1": ("delay-precise", 1), "dp4": ("delay-precise", 4), "echo1": ("echo", 1)}
BEGIN, END = "<!-- sparsity table -->", "<!-- end sparsity table -->"


def knob(cell: str) -> str:
    """What a cell's sweep sets: the spike cost (tasks) or the spike threshold (data)."""
    return "spike cost" if cell in TASKS else "theta0"


def train_args(cell: str, value: float, run: Path, data_root: Path, mode: str | None):
    """The ``sg-lava train`` arguments of a cell at one knob value, and the source that
    ``evaluate``/``plan`` take."""
    if cell in TASKS:
        task, r = TASKS[cell]
        how = [task, "--resolution", str(r), "--spike-cost", str(value)]
        return how + (["--mode", mode] if mode else []), ["--task", task]
    data = data_root / "data" / cell
    info = json.loads((data / "normalisation.json").read_text())
    toml = run / "net.toml"
    toml.write_text(net_toml(info["channels"], len(info["classes"]), theta0=value))
    return ["--data", str(data), "--net", str(toml)], ["--data", str(data)]


def run_one(cell: str, value: float, seed: int, args, data_root: Path) -> dict:
    run = Path(args.out) / cell / f"{knob(cell).replace(' ', '_')}{value:g}" / f"s{seed}"
    run.mkdir(parents=True, exist_ok=True)
    model, best, net = run / "model.pt", run / "model.best.pt", run / "net.h5"
    how, source = train_args(cell, value, run, data_root, args.mode)
    start = time.perf_counter()
    sg_lava(
        "sg-lava", "train", *how, "--out", str(model), "--seed", str(seed), "--overwrite",
        "--quiet", threads=args.threads,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    deployed = best if best.is_file() else model
    sg_lava("sg-export", str(deployed), str(net), threads=args.threads)
    ev = json.loads(sg_lava("sg-lava", "evaluate", str(deployed), str(net), *source, "--json", threads=args.threads).stdout)  # fmt: skip
    plan_source = ["--task"] if cell in TASKS else source
    plan = json.loads(sg_lava("sg-lava", "plan", str(net), *plan_source, "--json", threads=args.threads).stdout)  # fmt: skip
    ver = sg_lava(
        "sg-lava", "verify", str(deployed), str(net), "--samples", str(args.lava_samples),
        "--workers", "1", threads=args.threads,
    )  # fmt: skip
    line = ver.stdout.strip().splitlines()[-1]
    act = plan["activity"]
    return {
        "cell": cell,
        "label": f"{cell} ({args.mode})" if args.mode else cell,
        "knob": knob(cell),
        "value": value,
        "seed": seed,
        "float": ev["float_accuracy"],
        "fixed": ev["fixed_accuracy"],
        "spikes": ev["spikes_per_neuron_step"]["total"],
        "synops": ev["synops_per_inference"]["total"],
        "energy_uj": 1e6 * act["energy_per_inference_j"],
        "time_us": 1e6 * act["time_per_inference_s"],
        "verified": ver.returncode == 0 and "(100.00%)" in line,
        "verify": line,
        "train_seconds": round(seconds, 1),
    }


def cells_of(rows: list[dict]) -> dict[tuple[str, float], list[dict]]:
    out: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        out.setdefault((r.get("label", r["cell"]), r["value"]), []).append(r)
    return out


def table(rows: list[dict]) -> str:
    med = statistics.median
    lines = [
        "| cell | knob | seeds | float | fixed point | Lava = reference | hidden spikes / neuron / step | synaptic ops / inference | energy / inference (uJ) | time / inference (us) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (label, value), rs in sorted(
        cells_of(rows).items(), key=lambda kv: (kv[0][0].lower(), kv[0][1])
    ):
        cell = rs[0]["cell"]
        lines.append(
            f"| {label} | {knob(cell)} {value:g} | {len(rs)} | {med(r['float'] for r in rs):.4f} "
            f"| {med(r['fixed'] for r in rs):.4f} | {sum(r['verified'] for r in rs)}/{len(rs)} "
            f"| {med(r['spikes'] for r in rs):.4f} | {med(r['synops'] for r in rs):.0f} "
            f"| {med(r['energy_uj'] for r in rs):.3f} | {med(r['time_us'] for r in rs):.1f} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Accuracy (fixed point) against hidden spikes per neuron per step, one panel a cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    cells = list(dict.fromkeys(r.get("label", r["cell"]) for r in rows))
    cols = min(3, len(cells))
    fig, axes = plt.subplots(
        -(-len(cells) // cols),
        cols,
        figsize=(4.2 * cols, 3.4 * -(-len(cells) // cols)),
        squeeze=False,
    )
    for ax, cell in zip(axes.flat, cells):
        mine = [r for r in rows if r.get("label", r["cell"]) == cell]
        values = sorted({r["value"] for r in mine})
        for value in values:
            pts = [r for r in mine if r["value"] == value]
            ax.scatter(
                [r["spikes"] for r in pts],
                [r["fixed"] for r in pts],
                s=18,
                label=f"{knob(mine[0]['cell'])} {value:g}",
            )
        meds = [
            (statistics.median(r["spikes"] for r in mine if r["value"] == v),
             statistics.median(r["fixed"] for r in mine if r["value"] == v))
            for v in values
        ]  # fmt: skip
        ax.plot(*zip(*meds), color="0.4", lw=1, zorder=0)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: the minor labels collide
        ax.set_title(cell)
        ax.set_xlabel("hidden spikes per neuron per step")
        ax.set_ylabel("test accuracy (exported fixed point)")
        ax.grid(alpha=0.3)
        ax.margins(0.08)  # points at the edge stay in view
        spikes = [r["spikes"] for r in mine if r["spikes"] > 0]
        if spikes and max(spikes) / min(spikes) < 10:  # a decade at least: a labelled tick
            mid = (max(spikes) * min(spikes)) ** 0.5
            ax.set_xlim(mid / 3.3, mid * 3.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(cells) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=[*TASKS, *DATASETS])
    ap.add_argument("--costs", nargs="+", type=float, default=[0.0, 0.03, 0.1, 0.3])
    ap.add_argument("--thetas", nargs="+", type=float, default=[0.1, 0.2, 0.4, 0.8])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--mode", default=None, help="online or bptt (default: the recipe's)")
    ap.add_argument("--out", default="runs/sparsity")
    ap.add_argument("--real-data", default="runs/real_data", help="bench/real_data.py's --out")
    ap.add_argument("--aeon", default=None)
    ap.add_argument("--table", default=None)
    ap.add_argument("--plot", default=None)
    ap.add_argument("--lava-samples", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument(
        "--table-only", action="store_true", help="train nothing: the table of OUT's rows"
    )
    args = ap.parse_args()
    out, data_root = Path(args.out), Path(args.real_data)
    out.mkdir(parents=True, exist_ok=True)
    real = [c for c in args.cells if c not in TASKS and not args.table_only]
    if real:  # the converted sets and their net.toml, as bench/real_data.py writes them
        aeon = aeon_root(data_root, args.aeon)
        for name in real:
            data = data_root / "data" / name
            if not (data / "train.npz").is_file():
                base = name.removesuffix("_eq")
                source = aeon / "datasets" / "data" / base / f"{name}_TRAIN.ts"
                sg_lava("sg-lava", "convert", "ucr", str(source), "--out", str(data), threads=1)
    rows_file = out / "rows.jsonl"
    rows = read_rows(rows_file, args.resume or args.table_only)
    done = {(r["cell"], r["value"], r["seed"]) for r in rows}
    for cell in [] if args.table_only else args.cells:
        for value in args.costs if cell in TASKS else args.thetas:
            for seed in args.seeds:
                if (cell, value, seed) in done:
                    continue
                add_row(rows_file, rows, run_one(cell, value, seed, args, data_root))
    chosen = [
        r
        for r in rows
        if r["cell"] in args.cells
        and r["value"] in (args.costs if r["cell"] in TASKS else args.thetas)
    ]
    text = table(chosen)
    print(text)
    if args.table:
        command = f"python bench/sparsity.py --table {args.table}"
        write_table(Path(args.table), BEGIN, END, text, command)
    if args.plot:
        plot(chosen, Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
