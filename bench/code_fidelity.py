"""How much of each hidden neuron's value its spike code delivers, per model.

An encoder spike carries theta = theta0 + m_f * y(t-1), at most one fires per step, and the
estimate e decays by alpha_out (the receiving layer's first decay) every step, so e can
never exceed theta / (1 - alpha_out): a ceiling that rises about r times at r times finer
steps. For each model file this runs the float model on its own test split and prints,
for the first hidden layer: alpha_out, the ceiling at y = 1, the median e / y over the steps
where a neuron is active (y > 0.05), and the hidden spikes per neuron and step:

    python bench/code_fidelity.py runs/resolution/model_delay-precise_online_x{1,2,4,8}.best.pt
        [--samples 100]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from sg_lava.data.tasks import task_split
from sg_lava.deploy.pipeline import Pipeline
from sg_lava.model import dynamics
from sg_lava.model.timing import pad_steps

ACTIVE = 0.05  # y above this counts as an active step


@torch.no_grad()
def fidelity(model: Path, samples: int) -> dict[str, float]:
    """alpha_out, the ceiling at y = 1, median e / y on active steps, spikes per neuron
    and step, of the first hidden layer on ``samples`` of the model's test split."""
    pipe = Pipeline(model)
    net, task = pipe.net, pipe.payload["task"]
    data = task_split(task, "test", samples)
    x = pad_steps(data.x, net.latency)
    states = net.initial_state(x.shape[0], x.device)
    ys, es, spikes = [], [], []
    for t in range(x.shape[1]):
        res, states = net.step(x[:, t], states)
        ys.append(states[0].y_prev)
        es.append(states[0].estimate)
        spikes.append(res.spikes[0] != 0)
    y, e = torch.stack(ys, 1), torch.stack(es, 1)
    active = y > ACTIVE
    alpha_out = float(net.layers[1].alpha[0])
    theta = dynamics.adaptive_threshold(1.0, net.theta0, net.m_f)  # at y = 1
    return {
        "alpha_out": alpha_out,
        "ceiling_y1": theta / (1 - alpha_out),
        "e_over_y": float((e[active] / y[active]).median()) if active.any() else float("nan"),
        "spikes": float(torch.stack(spikes).double().mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--samples", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| model | alpha_out | ceiling at y = 1 | median e / y (active) | spikes/neuron/step |")
    print("|---|---|---|---|---|")
    for model in args.models:
        f = fidelity(model, args.samples)
        print(
            f"| {model.name} | {f['alpha_out']:.3f} | {f['ceiling_y1']:.3f} | "
            f"{f['e_over_y']:.3f} | {f['spikes']:.3f} |"
        )


if __name__ == "__main__":
    main()
