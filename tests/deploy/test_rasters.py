"""The verification picture: input, each layer (conv by channel), readout window, label, and
the reference's and Lava's marks apart where they differ."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from sg_lava.deploy.rasters import raster_figure
from sg_lava.deploy.verify import VerifyResult


def result(lava_changes: bool = False, conv: bool = False) -> VerifyResult:
    rng = np.random.default_rng(0)
    B, T = 3, 20
    x = (rng.random((B, T, 2)) < 0.2).astype(float)
    hidden_shape = (4, 3, 3) if conv else (6,)
    hidden = (rng.random((B, T, *hidden_shape)) < 0.3) * 2.0
    out = rng.normal(size=(B, T, 3))
    lava_hidden, lava_out = hidden.copy(), out.copy()
    if lava_changes:
        lava_hidden[1, 5].flat[0] = 2.0 - lava_hidden[1, 5].flat[0]
        lava_out[1, 6:9] += 5.0
    window = np.zeros((B, T), bool)
    window[:, 12:18] = True
    return VerifyResult(
        [], None, [hidden, out], [lava_hidden, lava_out],
        inputs=x, window=window, labels=np.array([0, 2, 1]),
    )  # fmt: skip


def labels_of(fig) -> set[str]:
    return {t for ax in fig.axes for t in ax.get_legend_handles_labels()[1]}


def test_the_picture_has_input_layers_readout_window_and_label():
    fig = raster_figure(result(), sample=1)
    plots = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(plots) == 3  # input, hidden layer, readout
    assert fig._suptitle.get_text().startswith("sample 1: label 2; class by reference")
    assert "readout window (dashed above)" in labels_of(fig)
    assert not {"reference, differs", "Lava, differs", "Lava differs"} & labels_of(fig)
    assert "spike (reference = Lava)" in labels_of(fig)
    plt.close(fig)


def test_differences_are_drawn_apart_and_conv_layers_by_channel():
    fig = raster_figure(result(lava_changes=True), sample=1)
    assert {"Lava, differs", "Lava differs"} <= labels_of(fig)
    plt.close(fig)
    fig = raster_figure(result(lava_changes=True, conv=True), sample=1)
    layer = [ax for ax in fig.axes if ax.get_title().startswith("layer 0")][0]
    (image,) = layer.get_images()
    assert image.get_array().shape == (4, 20)  # channels x steps
    assert "Lava differs" in layer.get_legend_handles_labels()[1]
    plt.close(fig)
