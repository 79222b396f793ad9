"""Compare a Lava run with the reference, spike for spike, and show the result.

:class:`~sg_lava.deploy.pipeline.Pipeline` produces both runs — the reference rebuilt from
``model.pt``, Lava built from ``net.h5`` alone — so a file that does not faithfully carry the
model (a changed bit, a stale export) shows up here as a divergence, named by layer, neuron,
sample and step, or as a parameter that differs. This module compares and reports (table,
summary line; the pictures are :mod:`sg_lava.deploy.rasters`); it runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sg_lava.errors import UserError
from sg_lava.export.neuron import values_equal
from sg_lava.export.qnet import QuantizedNetwork

# The float backend (docs/model.md, "Verifying on Lava's float backend"): Lava's floating_pt
# runs the file's parameters, the reference the float model on the file's weight grid; the
# other parameters differ by their 12-bit rounding, so a value near a threshold may spike on
# one side only, and what follows from it differs a while.
FLOAT_TOLERANCE = 0.01  # |Lava - reference| within 1 % of the layer's largest reference value
FLOAT_MIN_SHARE = 0.99  # of each layer's outputs within the tolerance, and every class agrees


@dataclass
class LayerComparison:
    """Agreement of one layer over all samples, steps and neurons."""

    index: int
    kind: str
    neurons: int
    events_reference: int
    events_lava: int
    identical: int  # entries that agree (float backend: within the tolerance)
    total: int  # entries where either side emits something

    @property
    def share(self) -> float:
        return self.identical / self.total if self.total else 1.0


@dataclass
class Divergence:
    layer: int
    neuron: tuple[int, ...]
    sample: int
    step: int
    reference: float
    lava: float
    tolerance: float | None = None  # float backend: the largest difference that agrees

    def __str__(self) -> str:
        where = f"layer {self.layer}, neuron {self.neuron}, sample {self.sample}, step {self.step}"
        text = f"{where}: reference {self.reference:g}, Lava {self.lava:g}"
        if self.tolerance is not None:
            text += f" (differ by {abs(self.reference - self.lava):.3g}, tolerance {self.tolerance:.3g})"
        return text


@dataclass
class VerifyResult:
    layers: list[LayerComparison]
    first: Divergence | None
    reference: list[np.ndarray]
    lava: list[np.ndarray]
    backend: str = "fixed"
    parameter_mismatches: list[str] = field(default_factory=list)
    output_scale: float = 1.0  # multiplies the output readout into real units (plots)
    inputs: np.ndarray | None = None  # (B, T, *input_shape) real inputs (plots)
    window: np.ndarray | None = None  # (B, T) bool readout window, in the run's timing
    labels: np.ndarray | None = None  # (B,) classes, when the inputs come with them
    classes_agree: int | None = None  # float backend: samples whose classes agree

    @property
    def identical(self) -> int:
        return sum(c.identical for c in self.layers)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.layers)

    @property
    def samples(self) -> int:
        return int(self.reference[-1].shape[0])

    @property
    def ok(self) -> bool:
        """Fixed point: identical everywhere. Float: every sample's class agrees and at least
        :data:`FLOAT_MIN_SHARE` of each layer's outputs lie within the tolerance."""
        if self.backend == "float":
            shares = all(c.share >= FLOAT_MIN_SHARE for c in self.layers)
            return shares and self.classes_agree == self.samples
        return self.first is None and not self.parameter_mismatches

    def tolerance_line(self) -> str:
        """The float backend's criterion, as ``verify`` prints it."""
        return (
            f"tolerance (float): |Lava - float| <= {100 * FLOAT_TOLERANCE:g}% of each layer's "
            f"largest reference value; passes when at least {100 * FLOAT_MIN_SHARE:g}% of each "
            "layer's outputs are within it and every sample's class agrees"
        )

    def summary_line(self) -> str:
        pct = 100.0 * self.identical / self.total if self.total else 100.0
        first = "none" if self.first is None else str(self.first)
        if self.backend != "float":
            return (
                f"verify: {self.identical}/{self.total} spike events identical ({pct:.2f}%); "
                f"first divergence: {first}"
            )
        return (
            f"verify: {self.identical}/{self.total} outputs within tolerance of float "
            f"({pct:.2f}%), classes agree on {self.classes_agree}/{self.samples} samples; "
            f"first departure: {first}"
        )

    def table(self) -> str:
        same = "identical" if self.backend != "float" else "  within"
        lines = [f"layer  type   neurons  events(ref)  events(Lava)  {same}     total      %"]
        for c in self.layers:
            lines.append(
                f"{c.index:>5}  {c.kind:<5} {c.neurons:>8} {c.events_reference:>12} "
                f"{c.events_lava:>13} {c.identical:>10} {c.total:>9} {100 * c.share:6.2f}"
            )
        return "\n".join(lines)


def compare(
    qnet: QuantizedNetwork,
    reference: list[np.ndarray],
    lava: list[np.ndarray],
    tolerance: float | None = None,
) -> tuple[list[LayerComparison], Divergence | None]:
    """Compare per layer arrays (B, T, *shape): equal, or (float runs) within ``tolerance``
    times the layer's largest reference magnitude. The first divergence is the earliest
    step, then sample, over all layers."""
    layers, first = [], None
    for i, (ref, got) in enumerate(zip(reference, lava)):
        if ref.shape != got.shape:
            raise UserError(f"layer {i}: reference shape {ref.shape} but Lava gave {got.shape}")
        bound = None
        if tolerance is None:
            same = ref == got
        else:
            bound = tolerance * float(np.abs(ref).max(initial=0.0))
            same = np.abs(ref - got) <= bound
        active = (ref != 0) | (got != 0)
        L = qnet.layers[i]
        layers.append(
            LayerComparison(
                i,
                L.kind,
                L.n_neurons,
                int(np.count_nonzero(ref)),
                int(np.count_nonzero(got)),
                int(np.count_nonzero(same & active)),
                int(np.count_nonzero(active)),
            )
        )
        bad = np.argwhere(~same)
        if len(bad):
            order = np.lexsort((bad[:, 0], bad[:, 1]))  # earliest step, then sample
            s, t, *idx = bad[order[0]]
            cand = Divergence(
                i,
                tuple(int(j) for j in idx),
                int(s),
                int(t),
                float(ref[(s, t, *idx)]),
                float(got[(s, t, *idx)]),
                bound,
            )
            if first is None or cand.step < first.step:
                first = cand
    return layers, first


def parameter_mismatches(a: QuantizedNetwork, b: QuantizedNetwork) -> list[str]:
    """Which parameters of which layers differ between two integer networks."""
    if len(a.layers) != len(b.layers):
        return [f"the model has {len(a.layers)} layers, the file {len(b.layers)}"]
    out = []
    for i, (x, y) in enumerate(zip(a.layers, b.layers)):
        pairs = {f: (getattr(x, f), getattr(y, f)) for f in x.__dataclass_fields__ if f != "neuron"}
        pairs.update({name: (u, getattr(y.neuron, name)) for name, _, u in x.neuron.items()})
        out += [f"layer {i}: {name}" for name, (u, v) in pairs.items() if not values_equal(u, v)]
    return out
