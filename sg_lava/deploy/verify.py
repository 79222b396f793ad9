"""Compare a Lava run with the reference, spike for spike, and show the result.

:class:`~sg_lava.deploy.pipeline.Pipeline` produces both runs — the reference rebuilt from
``model.pt``, Lava built from ``net.h5`` alone — so a file that does not faithfully carry the
model (a changed bit, a stale export) shows up here as a divergence, named by layer, neuron,
sample and step, or as a parameter that differs. This module compares and reports (table,
summary line, raster plot); it runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sg_lava.errors import UserError
from sg_lava.export.neuron import values_equal
from sg_lava.export.qnet import QuantizedNetwork
from sg_lava.files import atomic_write


@dataclass
class LayerComparison:
    """Agreement of one layer over all samples, steps and neurons."""

    index: int
    kind: str
    neurons: int
    events_reference: int
    events_lava: int
    identical: int
    total: int  # entries where either side emits something


@dataclass
class Divergence:
    layer: int
    neuron: tuple[int, ...]
    sample: int
    step: int
    reference: float
    lava: float

    def __str__(self) -> str:
        return (
            f"layer {self.layer}, neuron {self.neuron}, sample {self.sample}, step {self.step}: "
            f"reference {self.reference:g}, Lava {self.lava:g}"
        )


@dataclass
class VerifyResult:
    layers: list[LayerComparison]
    first: Divergence | None
    reference: list[np.ndarray]
    lava: list[np.ndarray]
    backend: str = "fixed"
    parameter_mismatches: list[str] = field(default_factory=list)
    min_agreement: float = 0.95  # float backend: the share of agreeing events that passes
    output_scale: float = 1.0  # multiplies the output readout into real units (plots)

    @property
    def identical(self) -> int:
        return sum(c.identical for c in self.layers)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.layers)

    @property
    def ok(self) -> bool:
        """Fixed point: identical everywhere. Float: at least ``min_agreement`` agree."""
        if self.backend == "float":
            return self.identical >= self.min_agreement * self.total
        return self.first is None and not self.parameter_mismatches

    def summary_line(self) -> str:
        pct = 100.0 * self.identical / self.total if self.total else 100.0
        what = (
            "spike events identical" if self.backend == "fixed" else "spike events agree with float"
        )
        first = "none" if self.first is None else str(self.first)
        return (
            f"verify: {self.identical}/{self.total} {what} ({pct:.2f}%); first divergence: {first}"
        )

    def table(self) -> str:
        lines = ["layer  type   neurons  events(ref)  events(Lava)  identical     total      %"]
        for c in self.layers:
            pct = 100.0 * c.identical / c.total if c.total else 100.0
            lines.append(
                f"{c.index:>5}  {c.kind:<5} {c.neurons:>8} {c.events_reference:>12} "
                f"{c.events_lava:>13} {c.identical:>10} {c.total:>9} {pct:6.2f}"
            )
        return "\n".join(lines)


def compare(
    qnet: QuantizedNetwork,
    reference: list[np.ndarray],
    lava: list[np.ndarray],
    close: float | None = None,
) -> tuple[list[LayerComparison], Divergence | None]:
    """Compare per layer arrays (B, T, *shape); ``close`` (relative) for float runs."""
    layers, first = [], None
    for i, (ref, got) in enumerate(zip(reference, lava)):
        if ref.shape != got.shape:
            raise UserError(f"layer {i}: reference shape {ref.shape} but Lava gave {got.shape}")
        if close is None:
            same = ref == got
        else:
            scale = np.maximum(np.abs(ref), np.abs(got))
            same = np.abs(ref - got) <= close * np.maximum(scale, 1e-12)
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


def plot_rasters(res: VerifyResult, path: str | Path, sample: int = 0, inputs=()) -> None:
    """Both rasters of one sample, layer by layer, mismatches marked; the output readouts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(res.reference)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.6 * n), squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        ref = res.reference[i][sample].reshape(res.reference[i].shape[1], -1)
        got = res.lava[i][sample].reshape(ref.shape)
        if i < n - 1:
            t, j = np.nonzero(ref)
            ax.scatter(t, j, s=14, marker="|", color="tab:blue", label="reference")
            t, j = np.nonzero(got)
            ax.scatter(
                t, j, s=22, facecolors="none", edgecolors="tab:orange", linewidths=0.6, label="Lava"
            )
            t, j = np.nonzero(ref != got)
            if len(t):
                ax.scatter(t, j, s=40, marker="x", color="red", label="mismatch")
            ax.set_ylabel(f"layer {i}\nneuron")
            ax.set_title(
                f"layer {i}: spikes ({np.count_nonzero(ref)} reference, {np.count_nonzero(got)} Lava)",
                fontsize=9,
            )
        else:
            for j in range(ref.shape[1]):
                (line,) = ax.plot(ref[:, j] * res.output_scale, lw=1.2, label=f"reference {j}")
                ax.plot(
                    got[:, j] * res.output_scale,
                    ls="--",
                    lw=1.0,
                    color=line.get_color(),
                    label=f"Lava {j}",
                )
            ax.set_ylabel("readout x")
            ax.set_title("output layer readout (solid: reference, dashed: Lava)", fontsize=9)
        ax.set_xlim(-0.5, ref.shape[0] - 0.5)
        ax.legend(loc="upper right", fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle(res.summary_line(), fontsize=9)
    fig.tight_layout()
    suffix = Path(path).suffix.lstrip(".") or "png"
    atomic_write(path, lambda f: fig.savefig(f, format=suffix, dpi=110), inputs)
    plt.close(fig)
