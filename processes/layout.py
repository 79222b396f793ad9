"""PyTorch order <-> Lava order, for shapes, sample arrays and synaptic weights (numpy only).

Lava shapes are WHC (reversed PyTorch order) with time last; sg-lava's arrays are PyTorch
order with time first. The network builder converts at its boundary with these functions,
so callers give and get PyTorch-order arrays.
"""

from __future__ import annotations

import numpy as np

from sg_lava.export.qnet import QuantLayer


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """PyTorch order (C, H, W) -> Lava order (W, H, C); 1-D shapes are unchanged."""
    return tuple(int(n) for n in shape[::-1])


def to_lava(x: np.ndarray) -> np.ndarray:
    """(T, *pytorch_shape) -> (*lava_shape, T)."""
    return np.ascontiguousarray(np.transpose(x, tuple(range(x.ndim - 1, 0, -1)) + (0,)))


def from_lava(x: np.ndarray) -> np.ndarray:
    """(*lava_shape, T) -> (T, *pytorch_shape)."""
    return np.ascontiguousarray(np.transpose(x, (x.ndim - 1, *range(x.ndim - 2, -1, -1))))


def lava_conv_weight(weight: np.ndarray) -> np.ndarray:
    """PyTorch (out, in, kH, kW) -> Lava Conv (out, kW, kH, in), as netx's create_conv does."""
    return np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))


def synapse_weight(layer: QuantLayer) -> np.ndarray:
    """The synapse's weight in Lava's layout (K copies stacked for per-synapse layers)."""
    w = np.asarray(layer.weight)
    if layer.per_synapse:
        w = w.reshape(-1, *w.shape[2:])
    if layer.kind == "conv":
        w = lava_conv_weight(w)
    return w.astype(np.int32)


def synapse_shape(layer: QuantLayer) -> tuple[int, ...]:
    """Lava shape of the synapse output (= the GammaNeuron's ``a_in``)."""
    shape = lava_shape(layer.shape)
    if layer.per_synapse:
        shape = (*shape[:-1], shape[-1] * layer.K)
    return shape
