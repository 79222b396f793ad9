"""A readable summary of a network file: what ``sg-lava inspect`` prints (numpy only)."""

from __future__ import annotations

from sg_lava.export.plan import core_summary
from sg_lava.export.qnet import QuantizedNetwork

PROVENANCE = ("source", "source_sha256", "sg_lava_version", "task")


def describe(qnet: QuantizedNetwork) -> str:
    """Shapes, bit widths, timing and provenance of a network, one layer per row."""
    spec = qnet.spec
    lines = [
        f"input shape {tuple(qnet.input_shape)}, timing {qnet.timing!r} "
        f"(output lags {qnet.latency} steps on Lava)",
        f"fixed point: {spec.state_bits}-bit states, {spec.weight_bits}-bit weights, "
        f"{spec.decay_bits}-bit decays, {spec.bucket_weight_bits}-bit bucket weights",
        "",
        "layer  type   shape         K  bucket-w      neurons  synapses  frac  weight-exp  drive-exp",
    ]
    for i, L in enumerate(qnet.layers):
        role = "output" if L.is_output else "hidden"
        variant = "per-synapse" if L.per_synapse else "per-neuron"
        lines.append(
            f"{i:>5}  {L.kind:<5}  {str(tuple(L.shape)):<12} {L.K:>2}  {variant:<12} "
            f"{L.n_neurons:>8}  {L.n_synapses:>8}  {L.frac_bits:>4}  "
            f"{L.neuron.weight_exp:>10}  {L.neuron.drive_exp:>9}   {role}"
        )
    for i, L in enumerate(qnet.layers):
        if L.neuron.copy_exp is not None:
            exps = " ".join(str(int(e)) for e in L.neuron.copy_exp)
            lines.append(f"layer {i}: weight copy k stored 2**copy_exp[k] finer, copy_exp {exps}")
    total_n = sum(L.n_neurons for L in qnet.layers)
    total_s = sum(L.n_synapses for L in qnet.layers)
    lines.append(f"total: {len(qnet.layers)} layers, {total_n} neurons, {total_s} synaptic weights")
    lines.append(core_summary(qnet))
    lines += [f"{key}: {qnet.meta[key]}" for key in PROVENANCE if qnet.meta.get(key)]
    return "\n".join(lines)
