"""The picture of one verified sample: its input, every layer's spikes, the readout.

``sg-lava verify --plot`` and the demo's ``raster.png``: one row per layer, time across. A
dense layer is a raster (one row per neuron), a conv layer one row per channel (its spikes
per step, summed over the channel's positions), the output layer the readout of each class
with the readout window shaded. Where the reference and Lava agree one mark stands for both;
where they differ the reference's and Lava's marks are drawn apart and in other colours, so
the differences are what stands out.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from sg_lava.deploy.verify import FLOAT_TOLERANCE, VerifyResult
from sg_lava.files import atomic_write

RASTER_ROWS = 64  # a layer or input with more rows is drawn as a heat map


def _rows(a: np.ndarray) -> np.ndarray:
    """One sample's (T, *shape) as (T, rows): dense as is, conv (C, H, W) per channel (the
    number of non-zero entries of each channel per step)."""
    if a.ndim == 4:
        return np.count_nonzero(a, axis=(2, 3)).astype(float)
    return a.reshape(a.shape[0], -1)


def _spans(window: np.ndarray) -> list[tuple[int, int]]:
    """The (first, last) steps of each run of True in ``window``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], window.astype(int), [0]])))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _shade(ax, window: np.ndarray | None, label: str | None = None) -> None:
    """The readout window: shaded (the readout panel), else its edges as dashed lines."""
    for i, (a, b) in enumerate(_spans(window) if window is not None else []):
        if label is None:
            for edge in (a - 0.5, b + 0.5):
                ax.axvline(edge, color="tab:green", ls="--", lw=0.8)
        else:
            name = label if i == 0 else None
            ax.axvspan(a - 0.5, b + 0.5, color="tab:green", alpha=0.12, lw=0, label=name)


def _differ(ref: np.ndarray, got: np.ndarray, backend: str) -> np.ndarray:
    """Where Lava differs from the reference (float: beyond the backend's tolerance)."""
    if backend != "float":
        return ref != got
    return np.abs(ref - got) > FLOAT_TOLERANCE * max(float(np.abs(ref).max(initial=0.0)), 1e-300)


def _raster(ax, ref: np.ndarray, got: np.ndarray, backend: str) -> None:
    """Dense rows: one mark where both spike alike, apart and coloured where they differ."""
    differ = _differ(ref, got, backend)
    both = (ref != 0) & (got != 0) & ~differ
    t, j = np.nonzero(both)
    ax.scatter(t, j, s=12, marker="|", color="black", label="spike (reference = Lava)")
    for side, mark, colour, shift, who in ((ref, "|", "tab:blue", -0.2, "reference"), (got, "x", "tab:red", 0.2, "Lava")):  # fmt: skip
        t, j = np.nonzero((side != 0) & differ)
        if len(t):
            ax.scatter(t, j + shift, s=18, marker=mark, color=colour, label=f"{who}, differs")
    ax.set_ylim(-0.8, ref.shape[1] - 0.2)


def _heat(ax, ref: np.ndarray, got: np.ndarray, backend: str, what: str) -> None:
    """Many rows (or channels): the reference as a heat map, Lava's differences marked."""
    image = ax.imshow(
        ref.T, aspect="auto", origin="lower", cmap="Greys", interpolation="nearest", vmin=0,
        extent=(-0.5, ref.shape[0] - 0.5, -0.5, ref.shape[1] - 0.5),
    )  # fmt: skip
    ax.figure.colorbar(image, ax=ax, pad=0.01, fraction=0.03, label=what)
    t, j = np.nonzero(_differ(ref, got, backend))
    if len(t):
        ax.scatter(t, j, s=14, marker="x", color="tab:red", label="Lava differs")


def _readout(ax, ref: np.ndarray, got: np.ndarray, backend: str, scale: float) -> None:
    """Each class's readout: the reference as a line, Lava as circles on it."""
    steps = np.arange(ref.shape[0])
    every = max(1, ref.shape[0] // 80)
    for c in range(ref.shape[1]):
        (line,) = ax.plot(steps, ref[:, c] * scale, lw=1.3, label=f"class {c}")
        ax.plot(
            steps[::every], got[::every, c] * scale, "o", ms=3.5, mfc="none", mew=0.8,
            color=line.get_color(),
        )  # fmt: skip
    ax.plot([], [], "o", ms=3.5, mfc="none", color="grey", label="Lava (circles)")
    t, c = np.nonzero(_differ(ref, got, backend))
    if len(t):
        ax.scatter(t, got[t, c] * scale, s=30, marker="x", color="tab:red", label="Lava differs")
    ax.axhline(0, color="grey", lw=0.5)


def _classes(res: VerifyResult, sample: int) -> str:
    """'label 1; class by reference 1, by Lava 1' for the title."""
    if res.window is None:
        return ""
    w = res.window[sample][:, None]
    by = [int(np.argmax((o[sample] * w).sum(0))) for o in (res.reference[-1], res.lava[-1])]
    label = "label unknown" if res.labels is None else f"label {int(res.labels[sample])}"
    return f"{label}; class by reference {by[0]}, by Lava {by[1]}"


def plot_rasters(res: VerifyResult, path: str | Path, sample: int = 0, inputs=()) -> None:
    """Draw sample ``sample`` of a verification (:func:`raster_figure`) into ``path`` (PNG,
    or any format matplotlib writes, by its suffix)."""
    import matplotlib.pyplot as plt

    fig = raster_figure(res, sample)
    suffix = Path(path).suffix.lstrip(".") or "png"
    atomic_write(path, lambda f: fig.savefig(f, format=suffix, dpi=110), inputs)
    plt.close(fig)


def raster_figure(res: VerifyResult, sample: int = 0):
    """The figure of sample ``sample``: input, each layer, readout."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    layers = len(res.reference)
    rows = layers + (res.inputs is not None)
    fig, axes = plt.subplots(rows, 1, figsize=(11, 1.2 + 2.3 * rows), sharex=True, squeeze=False)
    axes = list(axes[:, 0])
    window = None if res.window is None else res.window[sample]
    if res.inputs is not None:
        x = res.inputs[sample]
        ax = axes.pop(0)
        flat = _rows(x)
        if x.ndim == 2 and flat.shape[1] <= RASTER_ROWS:
            t, j = np.nonzero(flat)
            ax.scatter(t, j, s=20 + 40 * np.abs(flat[t, j]) / max(np.abs(flat).max(), 1e-12), marker="|", color="black", label="input event")  # fmt: skip
            ax.set_ylim(-0.8, flat.shape[1] - 0.2)
        else:
            what = "events per step" if x.ndim == 4 else "input value"
            _heat(ax, flat, flat, "fixed", what)
        ax.set_ylabel("input\n" + ("channel" if x.ndim == 4 or flat.shape[1] > 1 else ""))
        ax.set_title(f"input: shape {tuple(x.shape[1:])}, {np.count_nonzero(x)} non-zero values", fontsize=9)  # fmt: skip
        _shade(ax, window)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    for i, ax in enumerate(axes):
        ref, got = res.reference[i][sample], res.lava[i][sample]
        conv = ref.ndim == 4
        if i == layers - 1:
            _readout(ax, ref, got, res.backend, res.output_scale)
            _shade(ax, window, "readout window (dashed above)")
            ax.set_ylabel("output\nreadout x")
            ax.set_title("output layer: readout per class (line: reference, circles: Lava)", fontsize=9)  # fmt: skip
        else:
            a, b = _rows(ref), _rows(got)
            if conv or a.shape[1] > RASTER_ROWS:
                _heat(ax, a, b, res.backend, "spikes per step" if conv else "spike value")
            else:
                _raster(ax, a, b, res.backend)
            _shade(ax, window)
            ax.set_ylabel(f"layer {i}\n{'channel' if conv else 'neuron'}")
            kind = f"conv, {ref.shape[1]} channels of {ref.shape[2]}x{ref.shape[3]}" if conv else f"{a.shape[1]} neurons"  # fmt: skip
            ax.set_title(
                f"layer {i} ({kind}): {np.count_nonzero(ref)} spikes in the reference, "
                f"{np.count_nonzero(got)} on Lava",
                fontsize=9,
            )
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    for ax in fig.axes:
        if ax.get_label() != "<colorbar>" and ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    last = fig.axes[rows - 1] if res.inputs is not None else fig.axes[layers - 1]
    last.set_xlabel("time step")
    last.xaxis.set_major_locator(MaxNLocator(integer=True))
    last.set_xlim(-0.5, res.reference[0].shape[1] - 0.5)
    head = f"sample {sample}" + (f": {_classes(res, sample)}" if res.window is not None else "")
    summary = textwrap.fill(res.summary_line(), 150, subsequent_indent="  ")
    fig.suptitle(f"{head}\n{summary}", fontsize=9)
    fig.tight_layout()
    return fig
