#!/usr/bin/env python
"""The paper's resolution claim: delay-precise and echo at 1x, 2x, 4x, 8x and 16x finer steps.

Each resolution r has r times as many steps for the same physical task (delays, jitter,
window, all scaled by r; noise rate / r) and decays alpha**(1/r), so the buckets keep
the same physical time constants. For every task, resolution and training mode (online
with the default credit, BPTT) the script trains the recipe and reports the held-out
accuracy of the float model and of the fixed-point network sg-export would write
(the same :class:`~sg_lava.deploy.pipeline.Pipeline` quantisation, run by the integer reference),
for the epoch with the best validation accuracy (``MODEL.best.pt``, the model one deploys;
the validation split has a seed of its own) — the last epoch's figures are kept in the rows
as ``last_float`` and ``last_fixed``. ``--rescore`` measures the rows again from the model
files in OUT. ``--resume`` continues an interrupted run (a 16x cell trains for hours): cells
with a row in OUT are skipped, and a cell with a checkpoint continues from its last epoch.

Rows are appended to ``OUT/rows.jsonl`` as they finish (several runs may share it, e.g.
one per task or mode in parallel); the table is written from all rows to ``--table``,
between the file's ``<!-- resolution table -->`` and ``<!-- end resolution table -->``
lines when it has them (the README does), else as the whole file:

    python deploy_examples/resolution.py --out runs/resolution --table README.md \
        [--tasks delay-precise echo] [--resolutions 1 2 4 8 16] [--modes online bptt]
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

from sg_lava.cli.base import POSITIVE, guarded
from sg_lava.cli.examples import example_parser
from sg_lava.threads import set_threads
from sg_lava.training.config import MODES

BEGIN, END = "<!-- resolution table -->", "<!-- end resolution table -->"


def model_file(task: str, mode: str, r: int) -> str:
    """The model file of one (task, training mode, resolution) in OUT."""
    return f"model_{task}_{mode}_x{r}.pt"


def mode_label(mode: str, credit: str | None) -> str:
    """The table column of a training mode: ``online``, ``bptt``, or ``online (CREDIT)``."""
    return f"online ({credit})" if mode == "online" and credit else mode


def train_row(task: str, r: int, mode: str, args) -> dict:
    """Train one (task, resolution, mode) and measure float and exported fixed point."""
    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.training.checkpoints import RunFiles
    from sg_lava.training.experiment import train_task

    out = Path(args.out) / model_file(task, mode, r)
    res = train_task(
        task,
        out,
        epochs=args.epochs,
        seed=args.seed,
        mode=mode,
        resolution=r,
        n_train=args.n_train,
        n_test=args.n_test,
        progress=not args.quiet,
        credit=args.credit,
        resume=args.resume and RunFiles.beside(out).checkpoint.is_file(),
        overwrite=args.overwrite,
    )
    last = Pipeline(res.path)
    row = {
        "task": task,
        "resolution": r,
        "mode": mode_label(mode, args.credit),
        "file": model_file(task, mode, r),
        "steps": int(res.test.x.shape[1]),
        "seconds": round(sum(e["seconds"] for e in res.history), 1),  # across resumes
        "epochs": res.history[-1]["epoch"] if res.history else None,
        "n_train": last.payload["task"]["n_train"],
        "last_float": res.float_accuracy,  # train_task measured the last epoch already
        "last_fixed": last.fixed_accuracy(res.test),
    }
    best = RunFiles.beside(Path(args.out) / row["file"]).best
    return {**row, **accuracies(Pipeline(best), res.test)}


def accuracies(pipe, test) -> dict[str, float]:
    """Test accuracy of one model file: the float model and the exported fixed point."""
    from sg_lava.training.loop import float_accuracy

    return {"float": float_accuracy(pipe.net, test), "fixed": pipe.fixed_accuracy(test)}


def scores(model: Path) -> dict:
    """Test accuracy, float and exported fixed point, of the best-validation model beside
    ``model`` and of ``model`` itself (the last epoch); the test split comes from the file."""
    from sg_lava.data.tasks import task_split
    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.training.checkpoints import RunFiles

    last = Pipeline(model)
    test = task_split(last.payload["task"], "test", last.payload["task"]["n_test"])
    best = accuracies(Pipeline(RunFiles.beside(model).best), test)
    return {**best, **{f"last_{k}": v for k, v in accuracies(last, test).items()}}


def read_rows(path: Path) -> list[dict]:
    """The rows measured so far (none when the file does not exist yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def table(rows: list[dict]) -> list[str]:
    """Markdown rows, one per (task, resolution); missing cells marked '-'.

    Columns: online (default credit) and BPTT, then any other online credit measured.
    """
    cells: dict[tuple, dict] = {}
    for row in rows:
        entry = cells.setdefault((row["task"], row["resolution"]), {"steps": row["steps"]})
        entry[row["mode"]] = row
    modes = [*MODES, *sorted({r["mode"] for r in rows} - set(MODES))]

    def fmt(entry: dict, mode: str, key: str) -> str:
        return f"{entry[mode][key]:.4f}" if mode in entry else "-"

    heads = [f"{m} {k}" for m in modes for k in ("float", "fixed")]
    lines = [
        "| task | resolution | steps | " + " | ".join(heads) + " |",
        "|---|---|---|" + "---|" * len(heads),
    ]
    for (task, r), entry in sorted(cells.items()):
        values = [fmt(entry, m, k) for m in modes for k in ("float", "fixed")]
        lines.append(f"| {task} | {r}x | {entry['steps']} | " + " | ".join(values) + " |")
    return lines


def main(argv=None) -> int:
    ap = example_parser(__doc__, "runs/resolution")
    ap.add_argument("--tasks", nargs="+", default=["delay-precise", "echo"])
    ap.add_argument("--resolutions", type=POSITIVE, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--n-train", type=POSITIVE, default=None, help="default: the recipe's")
    ap.add_argument("--n-test", type=POSITIVE, default=None)
    ap.add_argument("--table", default=None, help="markdown file for the table")
    ap.add_argument("--table-only", action="store_true", help="only rebuild the table")
    ap.add_argument(
        "--rescore", action="store_true", help="measure the rows again from OUT's model files"
    )
    args = ap.parse_args(argv)
    set_threads(args.threads)

    def run() -> int:
        from sg_lava.files import atomic_write, with_section

        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        rows_file = folder / "rows.jsonl"
        if not (args.table_only or args.rescore):
            done = {(w["task"], w["resolution"], w["mode"]) for w in read_rows(rows_file)}
            for task in args.tasks:
                for mode in args.modes:
                    for r in args.resolutions:
                        if args.resume and (task, r, mode_label(mode, args.credit)) in done:
                            print(f"{task} {mode} {r}x: a row exists, skipped", flush=True)
                            continue
                        row = train_row(task, r, mode, args)
                        with open(rows_file, "a") as f:
                            f.write(json.dumps(row) + "\n")
                        print(json.dumps(row), flush=True)
        rows = read_rows(rows_file)
        if args.rescore:
            for row in rows:
                mode = row["mode"].split(" ")[0]
                name = row.get("file", model_file(row["task"], mode, row["resolution"]))
                row.update(file=name, **scores(folder / name))
            text = "".join(json.dumps(row) + "\n" for row in rows)
            atomic_write(rows_file, lambda f: f.write(text.encode()))
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        cmd = " ".join(["python deploy_examples/resolution.py", *(argv or sys.argv[1:])])
        text = f"Table written {stamp} by `{cmd}` from {rows_file}.\n\n"
        text += "\n".join(table(rows)) + "\n"
        print(text)
        if args.table:
            old = Path(args.table).read_text() if Path(args.table).is_file() else ""
            new = with_section(old, BEGIN, END, text)
            atomic_write(args.table, lambda f: f.write(new.encode()))
        return 0

    return guarded("resolution", run)


if __name__ == "__main__":
    sys.exit(main())
