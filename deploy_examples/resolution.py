#!/usr/bin/env python
"""The paper's resolution claim: the same delay task at 1x, 2x, 4x and 8x finer time steps.

Each resolution r has r times as many steps for the same physical task (delays, window,
everything scaled by r) and decays alpha**(1/r), so the buckets keep the same physical
time constants. Online training should reach about the same accuracy at every r. The
finest model is then exported and verified on Lava.

    python deploy_examples/resolution.py --out runs/resolution [--resolutions 1 2 4 8]
"""

from __future__ import annotations

import sys
from pathlib import Path

from sg_lava.cli import guarded
from sg_lava.examples import example_parser


def main(argv=None) -> int:
    ap = example_parser(__doc__, "runs/resolution")
    ap.add_argument("--resolutions", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--verify-samples", type=int, default=2)
    args = ap.parse_args(argv)

    def run() -> int:
        from sg_lava.experiment import train_task
        from sg_lava.export import hdf5
        from sg_lava.files import atomic_write

        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        rows, finest = [], None
        for r in args.resolutions:
            res = train_task(
                "delay",
                out=folder / f"model_x{r}.pt",
                epochs=args.epochs,
                seed=args.seed,
                mode=args.mode,
                resolution=r,
                n_train=args.n_train,
                n_test=args.n_test,
                progress=not args.quiet,
            )
            rows.append(
                (r, res.test.x.shape[1], res.float_accuracy, res.fixed_accuracy, res.seconds)
            )
            finest = res.pipeline
            print(f"x{r}: {rows[-1][1]} steps, accuracy {res.float_accuracy:.4f}", flush=True)
        table = [
            "| resolution | steps | accuracy (float) | accuracy (fixed) | train s |",
            "|---|---|---|---|---|",
        ]
        table += [f"| {r}x | {T} | {a:.4f} | {f:.4f} | {s:.0f} |" for r, T, a, f, s in rows]
        print("\n".join(table))

        finest.export(folder / "net.h5")
        x = finest.verification_inputs(args.verify_samples, None)
        res = finest.verify(hdf5.read(folder / "net.h5"), x)
        text = "\n".join(table) + "\n"
        atomic_write(folder / "resolution.md", lambda f: f.write(text.encode()))
        print(res.summary_line())
        return 0 if res.ok else 1

    return guarded("resolution", run)


if __name__ == "__main__":
    sys.exit(main())
