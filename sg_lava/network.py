"""A sequential network of SpikingGamma layers and its floating-point time loop.

The network is built from a plain config dict (so that ``model.pt`` stays loadable with
``torch.load(weights_only=True)``) and runs explicit state through
:mod:`sg_lava.dynamics` one time step at a time.

Timing: ``'zero'`` is the equations (a layer sees its input at the same step); ``'lava'``
adds one step of latency per synapse, as Lava's Dense and Conv do. The two are not a
pure shift of each other — biases act from step 0 in both — so a model is trained in
the timing it will be deployed with, recorded in its config; the output of a Lava-aligned
run lags by :attr:`GammaNetwork.latency` steps, which the readout window accounts for.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sg_lava import dynamics
from sg_lava.export.qnet import (
    MAX_K,
    MAX_LAYERS,
    MAX_NEURONS,
    MAX_WEIGHTS,
    TIMINGS,
    WIDTH_RANGES,
    conv_output_hw,
    latency,
    memory_budget,
)
from sg_lava.layers import Flatten, GammaConv2d, GammaDense, GammaLayer, SumPool2d

DEFAULTS: dict[str, Any] = {
    "K": 4,
    "F": 0.5,
    "theta0": 0.1,
    "m_f": None,  # None: m_f = theta0, as in the paper
    "per_synapse": False,
    "timing": "lava",
    # Train through the export's weight grid of this many bits (sg_lava.grid.on_weight_grid);
    # None: float weights. sg-export then defaults to the same width.
    "weight_bits": None,
}


def normalise_config(config: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and check a network config; returns a new dict.

    A config has ``input_shape`` (list), ``layers`` (list of dicts with ``type`` in
    dense/conv/flatten/pool) and the neuron settings of :data:`DEFAULTS`, which a layer
    dict may override (``K``, ``F``, ``per_synapse``).
    """
    if not isinstance(config, dict):
        raise ValueError("a network config must be a dict")
    cfg = {**DEFAULTS, **copy.deepcopy(config)}
    if cfg["m_f"] is None:
        cfg["m_f"] = cfg["theta0"]
    if cfg["timing"] not in TIMINGS:
        raise ValueError(f"timing must be one of {TIMINGS}, got {cfg['timing']!r}")
    if cfg["weight_bits"] is not None:
        _size(cfg["weight_bits"], "weight_bits", *WIDTH_RANGES["weight_bits"])
    if "input_shape" not in cfg or "layers" not in cfg:
        raise ValueError("a network config needs 'input_shape' and 'layers'")
    _check_sizes(cfg)
    if not any(layer.get("type") in ("dense", "conv") for layer in cfg["layers"]):
        raise ValueError("a network needs at least one dense or conv layer")
    if cfg["layers"][-1].get("type") not in ("dense", "conv"):
        raise ValueError("the last layer must be a dense or conv layer")
    return cfg


def _size(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{what} must be an integer in [{lo}, {hi}]")
    return value


def _pairs(spec: dict[str, Any], key: str, default: int, lo: int) -> tuple[int, int]:
    v = spec.get(key, default)
    v = [v, v] if isinstance(v, int) else v
    if not isinstance(v, list | tuple) or len(v) != 2:
        raise ValueError(f"conv {key} must be an integer or a pair")
    return tuple(_size(n, f"conv {key}", lo, 4096) for n in v)  # type: ignore[return-value]


def _check_sizes(cfg: dict[str, Any]) -> None:
    """Types, sizes, K and the parameter count of a config, by integer arithmetic alone:
    a config that would allocate more than the limits of :mod:`sg_lava.export.qnet` is
    refused before any tensor exists (training and loading both come through here)."""
    shape = cfg["input_shape"]
    if not isinstance(shape, list | tuple) or not 1 <= len(shape) <= 3:
        raise ValueError("input_shape must be a list of 1 to 3 sizes")
    shape = tuple(_size(n, "input_shape entries", 1, MAX_NEURONS) for n in shape)
    cfg["input_shape"] = list(shape)
    layers = cfg["layers"]
    if not isinstance(layers, list) or not all(isinstance(L, dict) for L in layers):
        raise ValueError("layers must be a list of dicts")
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise ValueError(f"a network has 1 to {MAX_LAYERS} layers")
    _size(cfg["K"], "K", 1, MAX_K)
    total = 0
    for i, spec in enumerate(layers):
        kind, where = spec.get("type"), f"layer {i}"
        K = _size(spec.get("K", cfg["K"]), f"{where}: K", 1, MAX_K)
        if kind == "dense":
            if len(shape) != 1:
                raise ValueError(f"{where}: dense layer needs a flat input: add a flatten")
            out = (_size(spec.get("out_features"), f"{where}: out_features", 1, MAX_NEURONS),)
            weights = out[0] * shape[0]
        elif kind == "conv":
            if len(shape) != 3:
                raise ValueError(f"{where}: conv layer needs a (C, H, W) input")
            C = _size(spec.get("out_channels"), f"{where}: out_channels", 1, MAX_NEURONS)
            ks = _pairs(spec, "kernel_size", 0, 1)
            hw = conv_output_hw(
                shape[1:], ks, _pairs(spec, "stride", 1, 1), _pairs(spec, "padding", 0, 0),
                _pairs(spec, "dilation", 1, 1),
            )  # fmt: skip
            if min(hw) < 1:
                raise ValueError(f"{where}: conv layer leaves no output for input {shape}")
            out, weights = (C, *hw), C * shape[0] * ks[0] * ks[1]
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
            continue
        elif kind == "pool":
            k = _size(spec.get("kernel_size"), f"{where}: pool kernel_size", 1, 4096)
            if len(shape) != 3:
                raise ValueError(f"{where}: pool needs a (C, H, W) input")
            shape = (shape[0], shape[1] // k, shape[2] // k)
            continue
        else:
            raise ValueError(f"{where}: unknown layer type (dense, conv, flatten or pool)")
        if int(np.prod(out)) > MAX_NEURONS:
            raise ValueError(f"{where}: {int(np.prod(out))} neurons exceed the limit {MAX_NEURONS}")
        if weights * (K if spec.get("per_synapse", cfg["per_synapse"]) else 1) > MAX_WEIGHTS:
            raise ValueError(f"{where}: {weights} weights exceed the limit {MAX_WEIGHTS}")
        total += weights * (K + 1)
        shape = out
    if total * 4 > memory_budget():
        raise ValueError(f"the network's ~{total} parameters exceed this machine's memory")


def build_layer(spec: dict[str, Any], in_shape: tuple[int, ...], cfg: dict[str, Any]) -> nn.Module:
    """One module from its config entry, given the shape of what it receives."""
    kind = spec.get("type")
    K = int(spec.get("K", cfg["K"]))
    F = float(spec.get("F", cfg["F"]))
    per_synapse = bool(spec.get("per_synapse", cfg["per_synapse"]))
    layer: GammaLayer
    if kind == "dense":
        if len(in_shape) != 1:
            raise ValueError(f"dense layer needs a flat input, got {in_shape}: add a flatten")
        layer = GammaDense(in_shape[0], int(spec["out_features"]), K, F, per_synapse)
    elif kind == "conv":
        layer = GammaConv2d(
            in_shape[0],
            int(spec["out_channels"]),
            spec["kernel_size"],
            spec.get("stride", 1),
            spec.get("padding", 0),
            spec.get("dilation", 1),
            K,
            F,
            per_synapse,
        )
    elif kind == "flatten":
        return Flatten()
    elif kind == "pool":
        return SumPool2d(int(spec["kernel_size"]))
    else:
        raise ValueError(f"unknown layer type {kind!r}")
    layer.weight_bits = cfg["weight_bits"]
    return layer


@dataclass
class LayerState:
    """State of one gamma layer during a run (float, presynaptic form)."""

    buckets: Tensor  # (batch, K, *in_shape)
    estimate: Tensor | None = None  # encoder estimate e (batch, *out_shape)
    y_prev: Tensor | None = None  # y(t-1) for the adaptive threshold
    pending: Tensor | None = None  # Lava-aligned timing: the input of the previous step

    def detached(self) -> LayerState:
        """The state as constants for online learning: history carries no gradient.

        ``pending`` keeps its graph: in Lava-aligned timing it is the spike that the
        current step's signal path goes through (one step per synapse), and the loss must
        reach the layer below through it.
        """

        def cut(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.detach()

        return LayerState(cut(self.buckets), cut(self.estimate), cut(self.y_prev), self.pending)


@dataclass
class StepResult:
    """What one time step produced."""

    output: Tensor  # readout x of the last layer
    spikes: list[Tensor] = field(default_factory=list)  # per hidden gamma layer


class GammaNetwork(nn.Module):
    """Sequential SpikingGamma network built from a config dict."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = normalise_config(config)
        shape = tuple(self.config["input_shape"])
        self.input_shape = shape
        modules, shapes = [], []
        for spec in self.config["layers"]:
            module = build_layer(spec, shape, self.config)
            in_shape, shape = shape, module.output_shape(shape)
            modules.append(module)
            shapes.append((in_shape, shape))
        self.layers = nn.ModuleList(modules)
        self.shapes = shapes
        self.theta0 = float(self.config["theta0"])
        self.m_f = float(self.config["m_f"])

    @property
    def timing(self) -> str:
        return self.config["timing"]

    @property
    def gamma_layers(self) -> list[GammaLayer]:
        return [m for m in self.layers if isinstance(m, GammaLayer)]

    @property
    def latency(self) -> int:
        """Steps by which the Lava-aligned output lags the equations (one per synapse)."""
        return latency(len(self.gamma_layers), self.timing)

    @contextmanager
    def held_parameters(self, per_step_backward: bool = False) -> Iterator[None]:
        """Compute each layer's ``alpha`` and synaptic weight once for a whole sequence.

        They depend on the parameters only, which do not change within a sequence, yet a
        step rebuilt them every time: K weight copies ``W * V^k``, each rounded onto its
        weight grid. Held, they are computed once. ``per_step_backward`` (online training,
        one backward per step) holds detached copies that collect each step's gradient and
        hands the sum to the parameters on a normal exit: the same gradient, since the
        chain rule is linear. Nested holds are the outer one's.
        """
        layers = self.gamma_layers
        if any(m.held is not None for m in layers):
            yield
            return
        pairs = []
        for m in layers:
            derived = {"alpha": m.alpha, "weight": m.synaptic_weight()}
            m.held = derived
            if per_step_backward:
                m.held = {k: v.detach().requires_grad_(v.requires_grad) for k, v in derived.items()}
                pairs += [(derived[k], m.held[k]) for k in derived]
        try:
            yield
        finally:
            for m in layers:
                m.held = None
        done = [(d, h.grad) for d, h in pairs if h.grad is not None]
        if done:
            torch.autograd.backward([d for d, _ in done], [g for _, g in done])

    def initial_state(self, batch: int, device=None) -> list[LayerState]:
        """All-zero state for ``batch`` samples, in the parameters' dtype."""
        dtype = self.gamma_layers[0].weight.dtype
        states = []
        for module, (in_shape, out_shape) in zip(self.layers, self.shapes):
            if not isinstance(module, GammaLayer):
                continue
            z_out = torch.zeros(batch, *out_shape, device=device, dtype=dtype)
            states.append(
                LayerState(
                    buckets=torch.zeros(batch, module.K, *in_shape, device=device, dtype=dtype),
                    estimate=z_out,
                    y_prev=z_out.clone(),
                    pending=torch.zeros(batch, *in_shape, device=device, dtype=dtype),
                )
            )
        return states

    def step(
        self, s: Tensor, states: list[LayerState], timing: str | None = None
    ) -> tuple[StepResult, list[LayerState]]:
        """Advance every layer by one step on input ``s`` (batch, *input_shape)."""
        timing = timing or self.timing
        gammas = self.gamma_layers
        new_states, spikes = [], []
        g = 0
        for module in self.layers:
            if not isinstance(module, GammaLayer):
                s = module(s)
                continue
            st = states[g]
            pending = st.pending
            if timing == "lava":
                s, pending = st.pending, s
            buckets = dynamics.bucket_step(st.buckets, s, module.alpha)
            x = module.presynaptic_readout(buckets)
            if g == len(gammas) - 1:
                new_states.append(LayerState(buckets, st.estimate, st.y_prev, pending))
                return StepResult(x, spikes), new_states
            y = torch.relu(x)
            alpha_out = gammas[g + 1].alpha[0].detach()
            code, estimate = dynamics.encoder_step(
                y.detach(), st.y_prev, st.estimate, self.theta0, self.m_f, alpha_out
            )
            new_states.append(LayerState(buckets, estimate, y.detach(), pending))
            spikes.append(code)
            s = dynamics.straight_through(code, y)
            g += 1
        raise AssertionError("unreachable: the last layer is a gamma layer")

    def forward(
        self, x: Tensor, timing: str | None = None, return_spikes: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Run a whole sequence ``x`` (batch, T, *input_shape) with gradients (BPTT).

        Returns the output readout (batch, T, *out_shape) and, when asked, every hidden
        layer's spikes (batch, T, *shape).
        """
        timing = timing or self.timing
        states = self.initial_state(x.shape[0], x.device)
        outputs, spikes = [], []
        with self.held_parameters():
            for t in range(x.shape[1]):
                res, states = self.step(x[:, t], states, timing)
                outputs.append(res.output)
                spikes.append(res.spikes)
        out = torch.stack(outputs, 1)
        if not return_spikes:
            return out
        per_layer = [torch.stack([sp[i] for sp in spikes], 1) for i in range(len(spikes[0]))]
        return out, per_layer
