"""Activity of a network on real inputs, and what it would cost on Loihi 2 (an estimate).

Runs the exact fixed-point reference (:class:`sg_lava.reference.fixed.FixedNetwork`, bit-identical
to the Lava network) on the inputs and counts, per layer: graded spikes per neuron per
step, the neurons that never fire, and the synaptic operations the spikes cause — every
graded spike (or non-zero input) times the fan-out of the neuron that sent it
(:func:`sg_lava.export.plan.fanout_map`). Beside them it puts the dense-equivalent count:
every connection, every step, which is what a clocked accelerator computes.

Energy and time per inference are estimates from the per-operation figures of
:data:`sg_lava.export.plan.OP_COSTS` (Loihi's published figures; Loihi 2's are not
published), with the placement of the plan deciding how work spreads over cores.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sg_lava.errors import UserError
from sg_lava.export.inputs import check_input_array
from sg_lava.export.plan import OP_COSTS, NetworkPlan, connections, fanout_map, figures_table
from sg_lava.export.qnet import QuantizedNetwork
from sg_lava.model.activity import synaptic_ops


@dataclass
class LayerActivity:
    """Counts of one layer, averaged over the samples."""

    index: int
    input_events_per_step: float  # non-zero payloads arriving at the layer's synapse
    synops_per_step: float
    synops_per_inference: float
    dense_ops_per_inference: int  # connections x steps
    spikes_per_neuron_per_step: float | None  # None for the output layer (a readout)
    silent_share: float | None  # neurons that never fired in any sample
    spikes_per_inference: float | None


@dataclass
class Activity:
    """Activity of the whole network and the Loihi 2 estimate per inference."""

    samples: int
    steps: int
    layers: list[LayerActivity]
    synops_per_inference: float
    dense_ops_per_inference: int
    silent_share: float  # over all hidden neurons
    energy_per_inference_j: float
    energy_breakdown_j: dict[str, float]
    time_per_step_s: float
    time_per_inference_s: float
    static_energy_per_inference_j: float  # the chips' idle power over the inference
    label: str = (
        "estimate: Loihi's per-operation energies (Davies et al. 2018), a Loihi 2 bound on the "
        "time per synaptic op and Loihi 2's idle power (lava-dl benchmarks); not measurements"
    )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["op_costs"] = figures_table(OP_COSTS)
        return d


def activity_inputs(
    qnet: QuantizedNetwork,
    n: int,
    inputs: str | None = None,
    data: str | None = None,
    task: str | None = None,
    seed: int | None = None,
    bins: int | None = None,
) -> np.ndarray:
    """Up to ``n`` samples to measure activity on: a ``.npy`` file, a data folder's test
    split (``test.npz``, or ``test.h5`` binned into ``bins`` steps, by default the bins the
    file records), or a built-in task's held-out split (``task=''``: the task the file
    records, at its recorded parameters and seed unless ``seed`` is given), padded for the
    network's latency as ``verify`` pads them."""
    from sg_lava.export.inputs import check_run_size, load_input_array

    if n < 1:
        raise UserError("--samples must be at least 1")
    per_step = math.prod(qnet.input_shape) + sum(L.n_neurons for L in qnet.layers)
    if inputs:
        return load_input_array(inputs, qnet.input_shape, values_per_step=per_step)[:n]
    from sg_lava.data.tasks import sample_shape
    from sg_lava.deploy.heldout import file_task, held_out, task_record

    if data:
        from sg_lava.data.userdata import open_split

        recorded = file_task(qnet.meta).get("bins")
        out = qnet.layers[-1].shape
        classes = out[0] if len(out) == 1 else None  # labels must name an output neuron
        split = open_split(data, "test", classes, tuple(qnet.input_shape), bins, 0, recorded)
        return split.head(n).x.numpy()

    record = task_record(task or "", file_task(qnet.meta), seed)
    try:
        steps = sample_shape(record["name"], **record.get("params", {}))[0]
    except (KeyError, TypeError, ValueError):
        steps = None  # held_out names the unknown task
    if steps is not None:
        check_run_size(n, steps + qnet.latency, per_step, f"--samples {n}")
    return held_out(record, None, "test", n, qnet.latency).numpy()


def run_reference(qnet: QuantizedNetwork, x: np.ndarray) -> list[np.ndarray]:
    """Integer input, then every layer's output (samples, T, *shape) from the reference."""
    from sg_lava.reference.fixed import (
        FixedNetwork,  # torch: imported only when activity is asked for
    )

    ints = qnet.quantize_input(x)
    out, hidden, _ = FixedNetwork(qnet).run(ints)
    return [qnet.encode_input(ints)] + [h.numpy() for h in hidden] + [out.numpy()]


def layer_activity(
    i: int, qnet: QuantizedNetwork, source: np.ndarray, own: np.ndarray
) -> LayerActivity:
    """Counts of layer ``i`` from what it received (``source``) and what it sent (``own``)."""
    layer = qnet.layers[i]
    B, T = source.shape[:2]
    ops = synaptic_ops(source, fanout_map(layer))
    spikes = silent = per_inf = None
    if not layer.is_output:
        fired = np.count_nonzero(own.reshape(B, T, -1), axis=(0, 1))
        spikes = float(fired.sum() / (B * T * layer.n_neurons))
        silent = float(np.mean(fired == 0))
        per_inf = float(fired.sum() / B)
    return LayerActivity(
        index=i,
        input_events_per_step=float(np.count_nonzero(source) / (B * T)),
        synops_per_step=ops / (B * T),
        synops_per_inference=ops / B,
        dense_ops_per_inference=connections(layer) * T,
        spikes_per_neuron_per_step=spikes,
        silent_share=silent,
        spikes_per_inference=per_inf,
    )


def update_scale(K: int) -> float:
    """A gamma neuron's update relative to a Loihi LIF update: (K + 2) state words vs 2."""
    return (K + 2) / OP_COSTS.lif_state_words.value


def energy_estimate(
    qnet: QuantizedNetwork, plan: NetworkPlan, acts: list[LayerActivity], T: int
) -> dict[str, float]:
    """Energy per inference (J) by kind of operation, from :data:`OP_COSTS`."""
    c = OP_COSTS
    synops = sum(a.synops_per_inference for a in acts) * c.synop_energy.value
    updates = 0.0
    messages = 0.0
    for i, (layer, a) in enumerate(zip(qnet.layers, acts)):
        active = a.spikes_per_inference or 0.0
        total = layer.n_neurons * T
        per = active * c.update_energy_active.value + (total - active) * (
            c.update_energy_inactive.value
        )
        updates += per * update_scale(layer.K)
        # each event entering layer i goes to every core of layer i (inferred: no multicast)
        messages += a.input_events_per_step * T * max(plan.layers[i].cores, 1)
    return {
        "synaptic_ops": synops,
        "neuron_updates": updates,
        "spike_messages": messages * c.spike_energy.value,
    }


def time_per_step(qnet: QuantizedNetwork, plan: NetworkPlan, acts: list[LayerActivity]) -> float:
    """Seconds per step: the busiest core (cores work in parallel), then the barrier."""
    c = OP_COSTS
    busiest = 0.0
    for layer, p, a in zip(qnet.layers, plan.layers, acts):
        cores = max(p.cores, 1)
        rate = a.spikes_per_neuron_per_step or 0.0
        update = rate * c.update_time_active.value + (1 - rate) * c.update_time_inactive.value
        per_core = a.synops_per_step / cores * c.synop_time.value + math.ceil(
            layer.n_neurons / cores
        ) * update * update_scale(layer.K)
        busiest = max(busiest, per_core)
    one_tile = plan.cores <= c.cores_per_tile.value
    barrier = c.barrier_time_one_tile.value if one_tile else c.barrier_time_chip.value
    return busiest + barrier


def measure_activity(qnet: QuantizedNetwork, x: np.ndarray, plan: NetworkPlan) -> Activity:
    """Run ``x`` (samples, T, *input_shape; real units) and estimate the cost per inference."""
    per_step = sum(L.n_neurons for L in qnet.layers)
    x = check_input_array(x, tuple(qnet.input_shape), values_per_step=per_step)
    outs = run_reference(qnet, x)
    B, T = x.shape[:2]
    acts = [layer_activity(i, qnet, outs[i], outs[i + 1]) for i in range(len(qnet.layers))]
    hidden = [(a, L.n_neurons) for a, L in zip(acts, qnet.layers) if a.silent_share is not None]
    n_hidden = sum(n for _, n in hidden)
    silent = sum(a.silent_share * n for a, n in hidden) / n_hidden if n_hidden else 0.0
    energy = energy_estimate(qnet, plan, acts, T)
    step = time_per_step(qnet, plan, acts)
    return Activity(
        samples=B,
        steps=T,
        layers=acts,
        synops_per_inference=sum(a.synops_per_inference for a in acts),
        dense_ops_per_inference=sum(a.dense_ops_per_inference for a in acts),
        silent_share=float(silent),
        energy_per_inference_j=sum(energy.values()),
        energy_breakdown_j=energy,
        time_per_step_s=step,
        time_per_inference_s=step * T,
        static_energy_per_inference_j=OP_COSTS.static_power.value * plan.chips * step * T,
    )


def format_activity(act: Activity) -> str:
    """The activity part of ``sg-lava plan`` as text."""
    lines = [
        f"activity over {act.samples} sample(s) x {act.steps} steps (fixed-point reference):",
        "layer  in-events/step  synops/step  synops/inference  dense-ops/inference  "
        "spikes/neuron/step  silent",
    ]
    for a in act.layers:
        rate = (
            "  (readout)"
            if a.spikes_per_neuron_per_step is None
            else (f"{a.spikes_per_neuron_per_step:11.4f}")
        )
        silent = "" if a.silent_share is None else f"{100 * a.silent_share:5.1f}%"
        lines.append(
            f"{a.index:>5}  {a.input_events_per_step:14.3f}  {a.synops_per_step:11.3f}  "
            f"{a.synops_per_inference:16.0f}  {a.dense_ops_per_inference:19d}  "
            f"{rate:>18}  {silent:>6}".rstrip()
        )
    share = act.synops_per_inference / max(act.dense_ops_per_inference, 1)
    e = act.energy_breakdown_j
    lines += [
        f"synaptic ops per inference: {act.synops_per_inference:.0f} "
        f"({100 * share:.2f}% of the dense-equivalent {act.dense_ops_per_inference})",
        f"silent hidden neurons: {100 * act.silent_share:.1f}%",
        f"energy per inference: {1e6 * act.energy_per_inference_j:.3f} uJ "
        f"(synaptic ops {1e6 * e['synaptic_ops']:.3f}, neuron updates "
        f"{1e6 * e['neuron_updates']:.3f}, spike messages {1e6 * e['spike_messages']:.3f})",
        f"time per inference: {1e6 * act.time_per_inference_s:.1f} us "
        f"({1e9 * act.time_per_step_s:.0f} ns per step)",
        f"static energy per inference (whole chip idle, not in the figure above): "
        f"{1e6 * act.static_energy_per_inference_j:.3f} uJ",
        f"({act.label})",
    ]
    return "\n".join(lines)
