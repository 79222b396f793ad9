"""Loihi 2 resource plan of a network file: what each layer needs, and on how many cores.

Works from a :class:`~sg_lava.export.qnet.QuantizedNetwork` (what ``net.h5`` holds) with
numpy only, so it runs wherever the file can be read — no torch, no Lava, no board. It
counts per layer the neurons, the synaptic weights as Loihi stores them, the synaptic
memory at the file's weight precision, the neuron state words, fan-in and fan-out and the
graded-spike width; it then places each layer on neuro cores under the per-core limits of
:data:`LOIHI2` and reports the cores and chips needed, with a warning naming the layer and
the limit wherever a layer must be split or cannot be placed.

Every figure used lives in :data:`LOIHI2` (limits) or :data:`OP_COSTS` (per-operation
energy and time), each with its source; ``docs/loihi2.md`` discusses them. The placement is
an estimate of what Lava's Loihi 2 compiler does, not a replacement for it: the compiler is
proprietary (lava-loihi), so the per-core memory model below is inferred and labelled so.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from sg_lava.errors import UserError
from sg_lava.export.qnet import MESSAGE_BITS, QuantizedNetwork, QuantLayer


@dataclass(frozen=True)
class Figure:
    """One number with its unit and where it comes from (``inferred`` says so)."""

    value: float
    unit: str
    source: str


@dataclass(frozen=True)
class Loihi2Limits:
    """Per-chip and per-core limits of Loihi 2 that placement must respect."""

    neuro_cores_per_chip: Figure = Figure(
        128, "cores", "Intel, Loihi 2 technology brief (2021): 128 neuro cores per chip"
    )
    neurons_per_core: Figure = Figure(
        8192, "neurons", "Intel, Loihi 2 technology brief (2021): up to 8192 neurons per core"
    )
    core_memory_bytes: Figure = Figure(
        128 * 1024,
        "bytes",
        "inferred: Loihi's 128 KB of synaptic state per core (Davies et al. 2018, IEEE Micro "
        "38(1), constraint 2), taken here as the whole budget a Loihi 2 core shares between "
        "synaptic memory, neuron state and routing",
    )
    synapse_words_per_core: Figure = Figure(
        12000,
        "32-bit words",
        "inferred from Lava's Loihi 2 compiler output published in lava-dl's PilotNet SDNN "
        "benchmark (tutorials/lava/lib/dl/netx/pilotnet_sdnn/benchmark.ipynb): "
        "cost_db.registers['SynMem']=12000, and allocation=66560 for a 2560x100 dense layer "
        "of 8-bit weights = 2560 axons x (ceil(100*8/32) + 1) words",
    )
    state_word_bytes: Figure = Figure(
        4,
        "bytes",
        "inferred: 24-bit neuron states held in 32-bit words (Lava NcProcessModels declare "
        "their Vars int32 with precision 24)",
    )
    routing_word_bytes: Figure = Figure(
        4, "bytes", "inferred: one 32-bit entry per input axon and per output axon of a core"
    )
    message_bits: Figure = Figure(
        MESSAGE_BITS,
        "bits",
        "graded spike payload used by sg-lava (docs/fixed_point.md); Loihi 2 graded spikes "
        "carry up to 32 bits (Intel, Loihi 2 technology brief, 2021)",
    )


# the Loihi 2 measurements with operation counts (docs/loihi2.md)
SRC = "lava-dl tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb @ b9e3691"


@dataclass(frozen=True)
class OpCosts:
    """Per-operation energy and time: Loihi 2 where a measurement gives it, else Loihi's.

    Intel has published no per-operation figures for Loihi 2. The only Loihi 2 silicon
    figures with operation counts are lava-dl's PilotNet benchmarks (docs/loihi2.md): its
    LIF run bounds the time per synaptic op (inferred) and agrees with Loihi's energy per
    synaptic op; the chip's static power is measured there too. Everything else is Loihi's
    (Davies et al. 2018, Table 2; 14 nm, 0.75 V, pre-silicon figures), so every energy and
    time derived from these is an estimate.
    """

    synop_energy: Figure = Figure(
        23.6e-12,
        "J",
        "Davies et al. 2018, Table 2: energy per synaptic spike op (min); consistent with "
        f"Loihi 2: the PilotNet LIF run ({SRC}) measured at most 15-30 pJ of dynamic energy "
        "per synaptic op, all costs charged to them (inferred, 3 runs)",
    )
    synop_time: Figure = Figure(
        1.0e-9,
        "s",
        "inferred upper bound for Loihi 2: the PilotNet LIF run's busiest core did 1.51e5 "
        f"synaptic ops in its 152.8 us step ({SRC}; counts read off its activity plot, +-5 %); "
        "Loihi: 3.5 ns (Davies et al. 2018, Table 2)",
    )
    update_energy_active: Figure = Figure(
        81e-12,
        "J",
        "Davies et al. 2018, Table 2: energy per neuron update (active); no Loihi 2 figure "
        "published",
    )
    update_energy_inactive: Figure = Figure(
        52e-12,
        "J",
        "Davies et al. 2018, Table 2: energy per neuron update (inactive); no Loihi 2 figure "
        "published",
    )
    update_time_active: Figure = Figure(
        8.4e-9,
        "s",
        "Davies et al. 2018, Table 2: time per neuron update (active); Intel claims up to 2x "
        "faster updates on Loihi 2 (not applied)",
    )
    update_time_inactive: Figure = Figure(
        5.3e-9, "s", "Davies et al. 2018, Table 2: time per neuron update (inactive)"
    )
    static_power: Figure = Figure(
        0.25,
        "W",
        "Loihi 2 chip idle power, measured 0.17-0.34 W (0.232 W and 0.282 W in the latest "
        "runs) on Oheo Gulch in lava-dl's PilotNet LIF and SDNN benchmarks (@ b9e3691); "
        "the whole chip's, whatever the network uses",
    )
    lif_state_words: Figure = Figure(
        2,
        "words",
        "inferred: a Loihi LIF compartment keeps two state variables (u, v; Davies et al. "
        "2018), so a gamma neuron's update is scaled by (K + 2) / 2",
    )
    spike_energy: Figure = Figure(
        1.7e-12 + 3.5e-12,
        "J",
        "Davies et al. 2018, Table 2: within-tile spike energy 1.7 pJ plus one tile hop, "
        "3.5 pJ (mean of 3.0 pJ E-W and 4.0 pJ N-S; inferred: one hop per message)",
    )
    barrier_time_one_tile: Figure = Figure(
        113e-9, "s", "Davies et al. 2018, Table 2: mesh-wide barrier sync time, 1 tile"
    )
    barrier_time_chip: Figure = Figure(
        465e-9, "s", "Davies et al. 2018, Table 2: mesh-wide barrier sync time, 32 tiles"
    )
    cores_per_tile: Figure = Figure(
        4, "cores", "inferred: Loihi's 128 cores over 32 tiles (Davies et al. 2018)"
    )


LOIHI2 = Loihi2Limits()
OP_COSTS = OpCosts()


def figures_table(table: Loihi2Limits | OpCosts) -> dict[str, dict[str, Any]]:
    """``{name: {value, unit, source}}`` for a table of figures (JSON and docs)."""
    return {f.name: asdict(getattr(table, f.name)) for f in fields(table)}


# -- counting ------------------------------------------------------------------------------


def per_synapse_copies(layer: QuantLayer) -> int:
    """Weight copies per connection: K for per-synapse bucket weights, else 1."""
    return layer.K if layer.per_synapse else 1


def _taps(out_len: int, in_len: int, k: int, s: int, p: int, d: int) -> tuple[np.ndarray, ...]:
    """Along one axis: valid kernel taps per output index, and outputs fed per input index."""
    o = np.arange(out_len)[:, None]
    i = o * s - p + np.arange(k)[None, :] * d  # input index of every (output, tap)
    valid = (i >= 0) & (i < in_len)
    per_out = valid.sum(1)
    per_in = np.bincount(i[valid], minlength=in_len)
    return per_out, per_in


def _conv_taps(layer: QuantLayer) -> tuple[np.ndarray, ...]:
    _, H, W = layer.in_shape
    _, Ho, Wo = layer.shape
    kh, kw = layer.kernel_size
    h = _taps(Ho, H, kh, layer.stride[0], layer.padding[0], layer.dilation[0])
    w = _taps(Wo, W, kw, layer.stride[1], layer.padding[1], layer.dilation[1])
    return h[0], w[0], h[1], w[1]


def fanout_map(layer: QuantLayer) -> np.ndarray:
    """Synaptic operations one graded spike of each presynaptic neuron causes (``in_shape``).

    Dense: every output neuron, once per weight copy. Conv: every output channel at every
    output position whose receptive field holds the input (padding and stride included).
    """
    copies = per_synapse_copies(layer)
    if layer.kind == "dense":
        n_in = int(np.prod(layer.in_shape))
        return np.full(n_in, layer.shape[0] * copies, dtype=np.int64)
    _, _, fo_h, fo_w = _conv_taps(layer)
    plane = np.outer(fo_h, fo_w).astype(np.int64) * layer.shape[0] * copies
    return np.broadcast_to(plane, tuple(layer.in_shape)).copy()


def connections(layer: QuantLayer) -> int:
    """Synaptic connections of the layer counted one by one (the dense-equivalent MACs)."""
    copies = per_synapse_copies(layer)
    if layer.kind == "dense":
        return int(np.prod(layer.in_shape)) * layer.shape[0] * copies
    per_h, per_w, _, _ = _conv_taps(layer)
    return int(layer.shape[0] * layer.in_shape[0] * per_h.sum() * per_w.sum() * copies)


def fan_in(layer: QuantLayer) -> int:
    """Most presynaptic neurons one neuron of the layer receives from."""
    if layer.kind == "dense":
        return int(np.prod(layer.in_shape))
    per_h, per_w, _, _ = _conv_taps(layer)
    return int(layer.in_shape[0] * per_h.max() * per_w.max())


def state_words_per_neuron(layer: QuantLayer) -> int:
    """K buckets, the estimate e and the previous output y_prev (docs/fixed_point.md, 3)."""
    return layer.K + 2


def channel_param_words(layer: QuantLayer) -> int:
    """Parameters per channel (GammaParams read by the dynamics): the bias, and K bucket
    weights for per-neuron readout."""
    return layer.neuron.words("C", "KC") // layer.neuron.channels


def shared_param_words(layer: QuantLayer) -> int:
    """Parameters shared by the whole layer: the K decays and the scalars the dynamics read."""
    return layer.neuron.words("K", "")


# -- placement -----------------------------------------------------------------------------


@dataclass
class CoreLoad:
    """What one core holding ``neurons`` neurons of a layer stores, in bytes."""

    neurons: int
    synapse_words: int  # 32-bit synaptic memory words (SynMem)
    synapse_bytes: int
    state_bytes: int
    routing_bytes: int

    @property
    def total(self) -> int:
        return self.synapse_bytes + self.state_bytes + self.routing_bytes


def core_load(layer: QuantLayer, n: int, cores: int, weight_bits: int) -> CoreLoad:
    """Memory of one of ``cores`` cores holding ``n`` neurons of ``layer``.

    Dense layers split by output neurons: a core keeps the full weight column of each of
    its neurons. Conv layers split into spatial blocks of all channels, as Lava's compiler
    places PilotNet (lava-dl's PilotNet SDNN benchmark): weights are shared, so each core
    keeps the whole kernel once.
    """
    word, route = int(LOIHI2.state_word_bytes.value), int(LOIHI2.routing_word_bytes.value)
    copies = per_synapse_copies(layer)
    n_in = int(np.prod(layer.in_shape))
    if layer.kind == "dense":  # per input axon: its weights packed in words, one header
        weights = n_in * n * copies
        words = n_in * (math.ceil(n * copies * weight_bits / 32) + 1)
        channels = n
        in_axons = n_in
    else:
        weights = int(np.asarray(layer.weight).size)
        words = math.ceil(weights * weight_bits / 32)
        channels = layer.shape[0]
        C_in, H, W = layer.in_shape
        kh, kw = layer.kernel_size
        halo = C_in * max(H, W) * (max(kh, kw) - 1)  # inputs shared with neighbouring blocks
        in_axons = min(n_in, math.ceil(n_in / cores) + halo)
    state = n * state_words_per_neuron(layer)
    params = channels * channel_param_words(layer) + shared_param_words(layer)
    return CoreLoad(
        neurons=n,
        synapse_words=words,
        synapse_bytes=max(words * 4, math.ceil(weights * weight_bits / 8)),
        state_bytes=(state + params) * word,
        routing_bytes=(n + in_axons) * route,
    )


@dataclass
class LayerPlan:
    """Resources and placement of one layer."""

    index: int
    kind: str
    shape: tuple[int, ...]
    K: int
    per_synapse: bool
    neurons: int
    synapses: int  # weights as stored: a conv kernel once, K copies when per-synapse
    connections: int  # synaptic connections counted one by one (dense equivalent)
    synapse_bytes: int  # at the file's weight precision, whole layer
    state_words: int  # neurons * (K + 2) plus the parameters, whole layer
    fan_in: int
    fan_out: int  # most synaptic ops one presynaptic spike causes in this layer
    message_bits: int
    cores: int  # 0 when the layer cannot be placed
    neurons_per_core: int
    bytes_per_core: int
    limit: str | None = None  # the per-core limit that forced a split or refusal
    problem: str | None = None  # why the layer cannot be placed

    @property
    def placeable(self) -> bool:
        return self.problem is None


@dataclass
class NetworkPlan:
    """The whole plan: layers, totals, warnings, and activity when inputs were given."""

    layers: list[LayerPlan]
    cores: int
    chips: int
    warnings: list[str]
    weight_bits: int
    activity: dict[str, Any] | None = None
    limits: dict[str, Any] = field(default_factory=lambda: figures_table(LOIHI2))

    @property
    def placeable(self) -> bool:
        return all(layer.placeable for layer in self.layers)

    @property
    def problem(self) -> str | None:
        return next((layer.problem for layer in self.layers if layer.problem), None)

    def as_dict(self) -> dict[str, Any]:
        layers = []
        for layer in self.layers:
            d = asdict(layer)
            d["shape"] = list(layer.shape)
            d["placeable"] = layer.placeable
            layers.append(d)
        return {
            "layers": layers,
            "cores": self.cores,
            "chips": self.chips,
            "placeable": self.placeable,
            "warnings": list(self.warnings),
            "totals": {
                "neurons": sum(x.neurons for x in self.layers),
                "synapses": sum(x.synapses for x in self.layers),
                "connections": sum(x.connections for x in self.layers),
                "synapse_bytes": sum(x.synapse_bytes for x in self.layers),
                "state_words": sum(x.state_words for x in self.layers),
            },
            "weight_bits": self.weight_bits,
            "limits": self.limits,
            "activity": self.activity,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1)


def _fits(layer: QuantLayer, n: int, N: int, weight_bits: int) -> bool:
    load = core_load(layer, n, math.ceil(N / n), weight_bits)
    return (
        n <= LOIHI2.neurons_per_core.value
        and load.synapse_words <= LOIHI2.synapse_words_per_core.value
        and load.total <= LOIHI2.core_memory_bytes.value
    )


def largest_block(layer: QuantLayer, weight_bits: int) -> int:
    """Most neurons of ``layer`` one core can hold (0: not even one neuron fits)."""
    N = layer.n_neurons
    lo, hi = 0, min(N, int(LOIHI2.neurons_per_core.value))
    while lo < hi:  # memory grows with the neurons held, so bisect on n
        mid = (lo + hi + 1) // 2
        if _fits(layer, mid, N, weight_bits):
            lo = mid
        else:
            hi = mid - 1
    return lo


def binding_limit(layer: QuantLayer, n: int, weight_bits: int) -> str:
    """The name (in :data:`LOIHI2`) of the first limit a core holding ``n`` neurons breaks."""
    N = layer.n_neurons
    if n > LOIHI2.neurons_per_core.value:
        return "neurons_per_core"
    load = core_load(layer, n, math.ceil(N / n), weight_bits)
    if load.synapse_words > LOIHI2.synapse_words_per_core.value:
        return "synapse_words_per_core"
    return "core_memory_bytes"


LIMIT_TEXT = {
    "neurons_per_core": "{v} neurons per core",
    "synapse_words_per_core": "{v} words of synaptic memory per core",
    "core_memory_bytes": "{v} bytes of SRAM per core",
}


def limit_text(name: str) -> str:
    """``'8192 neurons per core'``: a limit of :data:`LOIHI2` in words."""
    return LIMIT_TEXT[name].format(v=int(getattr(LOIHI2, name).value))


def _where(i: int, layer: QuantLayer) -> str:
    return f"layer {i} ({layer.kind} {tuple(int(s) for s in layer.shape)})"


def plan_layer(i: int, layer: QuantLayer, weight_bits: int) -> LayerPlan:
    """Count the resources of one layer and place it on as few cores as the limits allow."""
    N = layer.n_neurons
    n = largest_block(layer, weight_bits)
    cores = math.ceil(N / n) if n else 0
    limit = problem = None
    if n == 0:
        limit = binding_limit(layer, 1, weight_bits)
        load = core_load(layer, 1, N, weight_bits)
        problem = (
            f"{_where(i, layer)}: one neuron (fan-in {fan_in(layer)}, {weight_bits}-bit weights) "
            f"needs {load.synapse_words} synaptic words and {load.total} bytes, over the "
            f"limit of {limit_text(limit)}"
        )
    elif cores > 1:
        limit = binding_limit(layer, n + 1, weight_bits)
    load = core_load(layer, max(n, 1), max(cores, 1), weight_bits)
    state = N * state_words_per_neuron(layer)
    channels = N if layer.kind == "dense" else layer.shape[0]
    params = channels * channel_param_words(layer) + shared_param_words(layer)
    return LayerPlan(
        index=i,
        kind=layer.kind,
        shape=tuple(int(s) for s in layer.shape),
        K=layer.K,
        per_synapse=layer.per_synapse,
        neurons=N,
        synapses=int(np.asarray(layer.weight).size),
        connections=connections(layer),
        synapse_bytes=math.ceil(int(np.asarray(layer.weight).size) * weight_bits / 8),
        state_words=state + params,
        fan_in=fan_in(layer),
        fan_out=int(fanout_map(layer).max(initial=0)),
        message_bits=MESSAGE_BITS,
        cores=cores,
        neurons_per_core=n,
        bytes_per_core=load.total,
        limit=limit,
        problem=problem,
    )


def split_warning(p: LayerPlan) -> str | None:
    """The warning for a layer split over several cores (or refused), naming the limit."""
    if p.problem:
        return f"{p.problem}: it cannot be placed"
    if p.cores <= 1 or p.limit is None:
        return None
    return (
        f"layer {p.index} ({p.kind} {p.shape}): {p.neurons} neurons with their synapses do not "
        f"fit {limit_text(p.limit)}; split over {p.cores} cores of up to "
        f"{p.neurons_per_core} neurons"
    )


def plan_network(qnet: QuantizedNetwork) -> NetworkPlan:
    """The Loihi 2 resource plan of ``qnet``: per-layer counts, cores, chips, warnings."""
    wbits = int(qnet.spec.weight_bits)
    layers = [plan_layer(i, layer, wbits) for i, layer in enumerate(qnet.layers)]
    warnings = [w for w in (split_warning(p) for p in layers) if w]
    cores = sum(p.cores for p in layers)
    per_chip = int(LOIHI2.neuro_cores_per_chip.value)
    chips = math.ceil(cores / per_chip)
    if chips > 1:
        warnings.append(
            f"the network needs {cores} neuro cores, more than the {per_chip} of one Loihi 2 "
            f"chip: {chips} chips"
        )
    return NetworkPlan(layers, cores, chips, warnings, wbits)


def require_placeable(qnet: QuantizedNetwork) -> NetworkPlan:
    """The plan of ``qnet``; raises :class:`UserError` naming the layer and limit if unplaceable."""
    plan = plan_network(qnet)
    if not plan.placeable:
        raise UserError(f"cannot place this network on Loihi 2: {plan.problem}")
    return plan


def core_summary(qnet: QuantizedNetwork) -> str:
    """One line for ``sg-lava inspect``: cores and chips, or why it cannot be placed."""
    plan = plan_network(qnet)
    if not plan.placeable:
        return f"Loihi 2: cannot be placed ({plan.problem})"
    chips = "chip" if plan.chips == 1 else "chips"
    return (
        f"Loihi 2: {plan.cores} neuro cores on {plan.chips} {chips} (estimate; "
        "sg-lava plan for details)"
    )


# -- text ----------------------------------------------------------------------------------


def format_plan(plan: NetworkPlan) -> str:
    """The plan as a table (``sg-lava plan``)."""
    head = (
        "layer  type   shape           K  neurons  synapses  syn-bytes  state-words  "
        "fan-in  fan-out  msg-bits  cores  neurons/core  bytes/core"
    )
    lines = [head]
    for p in plan.layers:
        lines.append(
            f"{p.index:>5}  {p.kind:<5}  {str(p.shape):<14} {p.K:>2}  {p.neurons:>7}  "
            f"{p.synapses:>8}  {p.synapse_bytes:>9}  {p.state_words:>11}  {p.fan_in:>6}  "
            f"{p.fan_out:>7}  {p.message_bits:>8}  {p.cores:>5}  {p.neurons_per_core:>12}  "
            f"{p.bytes_per_core:>10}"
        )
    d = plan.as_dict()["totals"]
    lines.append(
        f"total: {d['neurons']} neurons, {d['synapses']} stored weights "
        f"({d['synapse_bytes']} bytes at {plan.weight_bits} bits), {d['connections']} "
        f"connections, {d['state_words']} neuron state words"
    )
    verdict = "fits" if plan.placeable else "does NOT fit"
    lines.append(
        f"placement: {plan.cores} neuro cores, {plan.chips} chip(s) "
        f"(limits per core: {limit_text('neurons_per_core').split(' per')[0]}, "
        f"{limit_text('synapse_words_per_core').split(' per')[0]}, "
        f"{limit_text('core_memory_bytes').split(' per')[0]}; "
        f"{int(LOIHI2.neuro_cores_per_chip.value)} cores per chip) - {verdict}"
    )
    lines += [f"warning: {w}" for w in plan.warnings]
    return "\n".join(lines)
