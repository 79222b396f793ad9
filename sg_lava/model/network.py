"""A sequential network of SpikingGamma layers and its floating-point time loop.

The network is built from a plain config dict (so that ``model.pt`` stays loadable with
``torch.load(weights_only=True)``) and runs explicit state through
:mod:`sg_lava.model.dynamics` one time step at a time.

Timing: ``'zero'`` is the equations (a layer sees its input at the same step); ``'lava'``
adds one step of latency per synapse, as Lava's Dense and Conv do. The two are not a
pure shift of each other — biases act from step 0 in both — so a model is trained in
the timing it will be deployed with, recorded in its config; the output of a Lava-aligned
run lags by :attr:`GammaNetwork.latency` steps, which the readout window accounts for.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from sg_lava.export.encoding import encode
from sg_lava.export.qnet import latency
from sg_lava.model import dynamics
from sg_lava.model.config import ConfigError, check_config
from sg_lava.model.layers import Flatten, GammaConv2d, GammaDense, GammaLayer, SumPool2d


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
        raise ConfigError(f"unknown layer type {kind!r}")
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


class StepCredit(Protocol):
    """Gradient paths of one step through each gamma layer (online credit with traces)."""

    def buckets(
        self, g: int, module: GammaLayer, st: LayerState, s: Tensor, timing: str
    ) -> tuple[Tensor, Tensor]:
        """Layer ``g``'s new buckets: the state to keep, and the buckets its readout sees."""
        ...

    def signal(self, g: int, module: GammaLayer, x: Tensor, y: Tensor) -> Tensor:
        """The ``y`` whose gradient hidden layer ``g`` receives from above."""
        ...


@dataclass
class StepResult:
    """What one time step produced."""

    output: Tensor  # readout x of the last layer
    spikes: list[Tensor] = field(default_factory=list)  # per hidden gamma layer
    # with count=True: the spikes of every hidden layer summed over the batch, as a
    # differentiable count (dynamics.spike_count)
    count: Tensor | None = None


class GammaNetwork(nn.Module):
    """Sequential SpikingGamma network built from a config dict."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = check_config(config)
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

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, timing={self.timing!r}, theta0={self.theta0:g}" + (
            f", weight_bits={self.config['weight_bits']}" if self.config["weight_bits"] else ""
        )

    @property
    def timing(self) -> str:
        return self.config["timing"]

    @property
    def gamma_layers(self) -> list[GammaLayer]:
        return [m for m in self.layers if isinstance(m, GammaLayer)]

    @property
    def latency(self) -> int:
        """Steps by which the output lags the equations in the network's own timing."""
        return self.lag(self.timing)

    def lag(self, timing: str) -> int:
        """Steps by which the output lags the equations in ``timing`` (one per synapse in
        Lava timing, :func:`sg_lava.export.qnet.latency`)."""
        return latency(len(self.gamma_layers), timing)

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
        self,
        s: Tensor,
        states: list[LayerState],
        timing: str | None = None,
        credit: StepCredit | None = None,
        count: bool = False,
    ) -> tuple[StepResult, list[LayerState]]:
        """Advance every layer by one step on input ``s`` (batch, *input_shape).

        ``credit`` (online training with traces, :mod:`sg_lava.training.credit`) chooses the
        gradient paths through each layer; the values are the same without it. ``count``
        adds the step's spikes as a differentiable count (``StepResult.count``).
        """
        timing = timing or self.timing
        gammas = self.gamma_layers
        new_states, spikes = [], []
        counted: Tensor | None = None
        g = 0
        for module in self.layers:
            if not isinstance(module, GammaLayer):
                s = module(s)
                continue
            st = states[g]
            pending = st.pending
            if timing == "lava":
                s, pending = st.pending, s
            if credit is None:
                value = buckets = dynamics.bucket_step(st.buckets, s, module.alpha)
            else:
                value, buckets = credit.buckets(g, module, st, s, timing)
            x = module.presynaptic_readout(buckets)
            if g == len(gammas) - 1:
                new_states.append(LayerState(value, st.estimate, st.y_prev, pending))
                return StepResult(x, spikes, counted), new_states
            y = torch.relu(x)
            alpha_out = gammas[g + 1].alpha[0].detach()
            code, estimate = dynamics.encoder_step(
                y.detach(), st.y_prev, st.estimate, self.theta0, self.m_f, alpha_out
            )
            new_states.append(LayerState(value, estimate, y.detach(), pending))
            spikes.append(code)
            if count:
                c = dynamics.spike_count(
                    y, code, st.y_prev, st.estimate, self.theta0, self.m_f, alpha_out
                ).sum()
                counted = c if counted is None else counted + c
            if credit is not None:
                y = credit.signal(g, module, x, y)
            s = dynamics.straight_through(code, y)
            g += 1
        raise AssertionError("unreachable: the last layer is a gamma layer")

    def encode_input(self, x: Tensor) -> Tensor:
        """What the host sends the first synapse for the inputs ``x`` (batch, T, ...): the
        config's ``input_encoding`` (:mod:`sg_lava.export.encoding`), with the first layer's
        first-bucket alpha as the sigma-delta code's decay. Constants: the input carries no
        gradient, and the code's decay takes none."""
        cfg = self.config
        if cfg["input_encoding"] == "direct":
            return x
        alpha = float(self.gamma_layers[0].alpha[0].detach())
        s = encode(
            x.detach().cpu().numpy(),
            cfg["input_encoding"],
            theta=cfg["input_theta"],
            mf=cfg["input_mf"],
            decay=alpha,
        )
        return torch.as_tensor(s, dtype=x.dtype, device=x.device)

    def forward(
        self, x: Tensor, timing: str | None = None, return_spikes: bool = False, count: bool = False
    ) -> Tensor | tuple:
        """Run a whole sequence ``x`` (batch, T, *input_shape) with gradients (BPTT); the
        input goes through :meth:`encode_input` first (:meth:`step` takes it encoded).

        Returns the output readout (batch, T, *out_shape), then, when asked, every hidden
        layer's spikes (batch, T, *shape) and the differentiable spike count of every step
        (T,) (:attr:`StepResult.count`).
        """
        timing = timing or self.timing
        x = self.encode_input(x)
        states = self.initial_state(x.shape[0], x.device)
        outputs, spikes, counts = [], [], []
        with self.held_parameters():
            for t in range(x.shape[1]):
                res, states = self.step(x[:, t], states, timing, count=count)
                outputs.append(res.output)
                spikes.append(res.spikes)
                counts.append(res.count)
        out: tuple = (torch.stack(outputs, 1),)
        if return_spikes:
            out += ([torch.stack([sp[i] for sp in spikes], 1) for i in range(len(spikes[0]))],)
        if count:
            out += (torch.stack(counts) if counts[0] is not None else x.new_zeros(x.shape[1]),)
        return out[0] if len(out) == 1 else out

    @property
    def hidden_neurons(self) -> int:
        """Neurons of the hidden (spiking) layers, per sample."""
        shapes = [out for m, (_, out) in zip(self.layers, self.shapes) if isinstance(m, GammaLayer)]
        return sum(math.prod(shape) for shape in shapes[:-1])
