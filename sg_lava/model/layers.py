"""Thin ``nn.Module`` layers around :mod:`sg_lava.model.dynamics`.

A :class:`GammaLayer` owns the parameters of one layer of SpikingGamma neurons — the
synaptic weight ``weight`` and ``bias``, the decays ``alpha`` (through an unconstrained
logit, so they stay in (0, 1)) and the ``bucket_weight`` (per neuron, or per synapse
with a leading K axis) — and knows how to apply its synapse. The time loop and the state
live in :mod:`sg_lava.model.network`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as fn
from torch import Tensor, nn

from sg_lava.export.qnet import conv_output_hw
from sg_lava.model import dynamics, grid


class GammaLayer(nn.Module):
    """Common part of dense and convolutional SpikingGamma layers."""

    kind: str = ""

    def __init__(
        self,
        weight_shape: tuple[int, ...],
        n_channels: int,
        fan_in: int,
        K: int,
        F: float,
        per_synapse: bool,
    ) -> None:
        super().__init__()
        self.K = K
        self.per_synapse = per_synapse
        bound = math.sqrt(1.0 / fan_in)  # the paper: U(-sqrt(k), sqrt(k)), k = 1/fan_in
        self.weight = nn.Parameter(torch.empty(weight_shape).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_channels).uniform_(-bound, bound))
        alpha = dynamics.init_alpha(K, F).clamp(1e-4, 1 - 1e-4)
        self.alpha_logit = nn.Parameter(torch.logit(alpha))
        v_shape = (K, *weight_shape) if per_synapse else (K, n_channels)
        self.bucket_weight = nn.Parameter(torch.randn(v_shape) * 0.1)
        self.weight_bits: int | None = None  # forward on the export's weight grid (None: off)
        self.held: dict[str, Tensor] | None = None  # GammaNetwork.held_parameters

    @property
    def alpha(self) -> Tensor:
        """Bucket decays, constrained to (0, 1)."""
        if self.held is not None:
            return self.held["alpha"]
        return torch.sigmoid(self.alpha_logit)

    def neuron_repr(self) -> str:
        """The neuron settings for ``repr``: ``K=4`` (and per-synapse bucket weights)."""
        return f"K={self.K}" + (", per_synapse" if self.per_synapse else "")

    def synapse(self, s: Tensor, weight: Tensor) -> Tensor:
        """Apply a synaptic weight of this layer's geometry to ``s`` (batch, *in_shape)."""
        raise NotImplementedError

    def channel_view(self, t: Tensor) -> Tensor:
        """Reshape a per-channel vector to broadcast over this layer's output."""
        raise NotImplementedError

    def synaptic_weight(self) -> Tensor:
        """The weight the synapse applies: ``weight``, or per synapse the K copies
        ``weight * V^k`` (K, *weight_shape); on the export's grid when ``weight_bits`` is set."""
        if self.held is not None:
            return self.held["weight"]
        if not self.per_synapse:
            w = self.weight
        else:
            w = self.weight.unsqueeze(0) * self.bucket_weight
        if self.weight_bits is None:
            return w
        return grid.on_weight_grid(w, self.weight_bits, copies=self.per_synapse)

    def presynaptic_readout(self, buckets: Tensor) -> Tensor:
        """``x`` from presynaptic buckets (batch, K, *in_shape): exact weight gradients."""
        B, K = buckets.shape[:2]
        if self.per_synapse:
            merged = buckets.reshape(B, K * buckets.shape[2], *buckets.shape[3:])
            weight = self.synaptic_weight().transpose(0, 1)
            weight = weight.reshape(weight.shape[0], -1, *weight.shape[3:])
            return self.synapse(merged, weight) + self.channel_view(self.bias)
        z = self.synapse(buckets.reshape(B * K, *buckets.shape[2:]), self.synaptic_weight())
        z = z.reshape(B, K, *z.shape[1:])
        return dynamics.readout(
            z, self.channel_view(self.bucket_weight), self.channel_view(self.bias)
        )


class GammaDense(GammaLayer):
    """Fully connected SpikingGamma layer."""

    kind = "dense"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        K: int = 4,
        F: float = 0.5,
        per_synapse: bool = False,
    ) -> None:
        super().__init__((out_features, in_features), out_features, in_features, K, F, per_synapse)
        self.in_features = in_features
        self.out_features = out_features

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, {self.neuron_repr()}"

    def synapse(self, s: Tensor, weight: Tensor) -> Tensor:
        return s @ weight.t()

    def channel_view(self, t: Tensor) -> Tensor:
        return t

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if input_shape != (self.in_features,):
            raise ValueError(f"dense layer expects input ({self.in_features},), got {input_shape}")
        return (self.out_features,)


class GammaConv2d(GammaLayer):
    """2-D convolutional SpikingGamma layer (bucket weights per output channel)."""

    kind = "conv"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        K: int = 4,
        F: float = 0.5,
        per_synapse: bool = False,
    ) -> None:
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        fan_in = in_channels * ks[0] * ks[1]
        super().__init__((out_channels, in_channels, *ks), out_channels, fan_in, K, F, per_synapse)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ks
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)

    def extra_repr(self) -> str:
        geometry = [f"kernel_size={self.kernel_size}"]
        for name, plain in (("stride", (1, 1)), ("padding", (0, 0)), ("dilation", (1, 1))):
            if getattr(self, name) != plain:
                geometry.append(f"{name}={getattr(self, name)}")
        sizes = f"{self.in_channels} -> {self.out_channels}"
        return f"{sizes}, {', '.join(geometry)}, {self.neuron_repr()}"

    def synapse(self, s: Tensor, weight: Tensor) -> Tensor:
        if not s.dtype.is_floating_point:  # integer (fixed-point) input: exact in float64
            out = fn.conv2d(
                s.double(), weight.double(), None, self.stride, self.padding, self.dilation
            )
            return out.round().to(s.dtype)
        return fn.conv2d(s, weight, None, self.stride, self.padding, self.dilation)

    def channel_view(self, t: Tensor) -> Tensor:
        return t.unsqueeze(-1).unsqueeze(-1)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise ValueError(f"conv layer expects ({self.in_channels}, H, W), got {input_shape}")
        hw = conv_output_hw(
            input_shape[1:], self.kernel_size, self.stride, self.padding, self.dilation
        )
        if min(hw) < 1:
            raise ValueError(f"conv layer leaves no output for input {input_shape}")
        return (self.out_channels, *hw)


class Flatten(nn.Module):
    """Flatten (C, H, W) to (C*H*W,) in PyTorch order, as netx's ``flatten`` layer does."""

    kind = "flatten"

    def forward(self, s: Tensor) -> Tensor:
        return s.flatten(1)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(input_shape),)


class SumPool2d(nn.Module):
    """Sum pooling of spikes over ``kernel_size`` x ``kernel_size`` windows (stride = size).

    Pooling is linear and has no neurons, so on export it is folded into the next
    synaptic layer (:func:`sg_lava.reference.quantize.fold_pooling`): Lava and netx have no pool
    block, and the folded synapse computes the same sums exactly.
    """

    kind = "pool"

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.kernel_size = int(kernel_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"

    def forward(self, s: Tensor) -> Tensor:
        k = self.kernel_size
        B, C, H, W = s.shape
        return s.reshape(B, C, H // k, k, W // k, k).sum((3, 5))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        C, H, W = input_shape
        k = self.kernel_size
        if H % k or W % k:
            raise ValueError(f"pool size {k} does not divide input {input_shape}")
        return (C, H // k, W // k)


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))
