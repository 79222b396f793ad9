"""Quantise a trained float :class:`GammaNetwork` into its integer form.

One implementation, used by the fixed-point reference and by ``sg-export``. Each layer
(or each weight copy, per synapse) gets the finest power-of-two weight exponent that holds
its largest weight, so weights do not clip; with calibration inputs the exponent may be
made coarser so that the calibrated synaptic sums stay in Lava's accumulator, and a
sender's state scale gives up bits first (:func:`_fit_payloads`). What clips or rounds to
zero is reported per layer. Pooling layers are folded into the synapse that follows them
(:func:`fold_pooling`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from torch import Tensor

from sg_lava.export.neuron import GammaParams
from sg_lava.export.qnet import (
    MAX_MESSAGE,
    MESSAGE_BITS,
    FixedPointSpec,
    QuantizedNetwork,
    QuantLayer,
)
from sg_lava.model.grid import (
    copy_exps,
    power_of_two_exp,
    quantize_mantissa,
    quantize_weight,
    weight_exp,
)
from sg_lava.model.layers import Flatten, GammaConv2d, GammaDense, GammaLayer, SumPool2d
from sg_lava.model.network import GammaNetwork


@dataclass
class LayerReport:
    """What quantising one layer did to its values."""

    index: int
    kind: str
    weight_bits: int
    weight_exp: int
    weight_clipped: float  # share of weights that clipped
    weight_zeroed: float  # share of non-zero weights that rounded to zero
    bucket_weight_exp: int
    bucket_weight_clipped: float
    bias_clipped: float
    decay: list[int]

    @property
    def clipped(self) -> float:
        return max(self.weight_clipped, self.bucket_weight_clipped, self.bias_clipped)


def fold_pooling(net: GammaNetwork) -> list[tuple[GammaLayer, dict]]:
    """Gamma layers with any preceding sum pooling folded into their synapse.

    Sum pooling by ``p`` before a conv equals a conv whose kernel is the original one
    repeated ``p`` x ``p`` times, with stride and padding times ``p``; before a flatten and
    a dense layer it equals a dense layer whose weight is repeated over each window.
    Returns each gamma layer with its effective float weights and geometry.
    """
    out = []
    pool = 1
    pre_flatten: tuple[int, ...] | None = None
    for module, (in_shape, out_shape) in zip(net.layers, net.shapes):
        if isinstance(module, SumPool2d):
            pool *= module.kernel_size
            continue
        if isinstance(module, Flatten):
            pre_flatten = in_shape
            continue
        if not isinstance(module, GammaLayer):
            raise TypeError(f"cannot quantise a {type(module).__name__}")
        w = module.weight.detach().double()
        v = module.bucket_weight.detach().double()
        geo: dict = {"in_shape": tuple(in_shape), "flatten_from": None}
        if isinstance(module, GammaConv2d):
            geo.update(stride=module.stride, padding=module.padding, dilation=module.dilation)
            if pool > 1:
                if module.dilation != (1, 1):
                    raise ValueError("pooling before a dilated conv cannot be folded")
                w = _repeat_spatial(w, pool)
                if module.per_synapse:
                    v = _repeat_spatial(v, pool)
                geo["stride"] = tuple(s * pool for s in module.stride)
                geo["padding"] = tuple(p * pool for p in module.padding)
                geo["in_shape"] = (in_shape[0], in_shape[1] * pool, in_shape[2] * pool)
        elif isinstance(module, GammaDense):
            if pre_flatten is not None:
                C, H, W = pre_flatten
                if pool > 1:
                    w = _repeat_spatial(w.reshape(-1, C, H, W), pool).flatten(1)
                    if module.per_synapse:
                        v = _repeat_spatial(v.reshape(v.shape[0] * v.shape[1], C, H, W), pool)
                        v = v.reshape(module.K, module.out_features, -1)
                    pre_flatten = (C, H * pool, W * pool)
                geo["flatten_from"] = pre_flatten
                geo["in_shape"] = (int(np.prod(pre_flatten)),)
            elif pool > 1:
                raise ValueError("pooling before a dense layer needs a flatten in between")
        out.append((module, {**geo, "weight": w, "bucket_weight": v, "shape": tuple(out_shape)}))
        pool, pre_flatten = 1, None
    return out


def _repeat_spatial(w: Tensor, p: int) -> Tensor:
    return w.repeat_interleave(p, dim=-2).repeat_interleave(p, dim=-1)


# Calibration runs the integer model with wide weights and states, and exact sums (no conv
# wrap), to see how large each quantity gets. 30-bit states at 16 fraction bits hold real
# values up to 2**13 and keep the fast float path of the reference (sg_lava/reference/fixed.py).
CALIBRATION_SPEC = FixedPointSpec(
    state_bits=30,
    decay_bits=12,
    weight_bits=16,
    bucket_weight_bits=16,
    mf_bits=12,
    state_frac_bits=16,
    sum_bits=64,
)
HEADROOM = 2.0  # calibrated ranges leave a factor 2 above the largest value seen
# A layer's largest synaptic sum in a calibration run, in value units of its largest weight
# copy's grid, and the copies' copy_exp there (None: one grid): copy k's sums were at most
# value * 2**-copy_exp[k] in its own units.
SumPeak = tuple[float, "np.ndarray | None"]
MAX_FRAC_BITS = 20
MIN_FRAC_BITS = 8  # payload scales are not made coarser than this (_fit_payloads)
INPUT_BITS = 8  # significant bits of a real-valued input's typical magnitude


def input_frac_bits(x: Tensor) -> int:
    """The input scale: the network input ``x`` is fed as ``round(x * 2**bits)``.

    Integer inputs (events, counts) keep 0, so they are fed exactly. Real-valued ones, signed
    or not, get :data:`INPUT_BITS` significant bits at their typical magnitude (the RMS of
    the non-zero values), as far as the largest value times :data:`HEADROOM` still fits the
    first synapse's signed messages (``MESSAGE_BITS``).
    """
    x = x.double()
    nonzero = x[x != 0]
    if not nonzero.numel() or bool((nonzero == nonzero.round()).all()):
        return 0
    typical = float(nonzero.square().mean().sqrt())
    bits = INPUT_BITS - int(np.floor(np.log2(typical)))
    room = power_of_two_exp(float(nonzero.abs().max()) * HEADROOM, float(MAX_MESSAGE))
    return int(np.clip(bits, 0, min(room, MESSAGE_BITS - 1)))


def quantize_network(
    net: GammaNetwork,
    *,
    calibration: Tensor | None = None,
    spec: FixedPointSpec | None = None,
) -> tuple[QuantizedNetwork, list[LayerReport]]:
    """The integer form of ``net`` (docs/fixed_point.md) and a per-layer report.

    ``spec`` defaults to :class:`FixedPointSpec` with the ``weight_bits`` the network was
    trained for, if any. Without ``calibration`` every layer uses ``spec.state_frac_bits``
    and the weight exponents that fit the weights. With calibration inputs
    (batch, T, *input_shape) the input scale is chosen from them (:func:`input_frac_bits`)
    and the network is first run in wide integers; each layer then
    gets the finest state scale that keeps its largest state below half the range, and
    weight exponents that keep the synaptic sums in range too, so that saturation is the
    exception.
    """
    if spec is None:  # the default widths, and the weight grid the model was trained on
        bits = net.config.get("weight_bits")
        spec = FixedPointSpec(weight_bits=bits) if bits else FixedPointSpec()
    folded = fold_pooling(net)
    frac = [spec.state_frac_bits] * len(folded)
    sum_peaks: list[float | None] | None = None
    if calibration is not None:
        spec = replace(spec, input_frac_bits=input_frac_bits(calibration))
        frac, sum_peaks = _calibrate(net, folded, spec, calibration)
        frac = _fit_payloads(folded, spec, frac, sum_peaks)
    return _quantize(net, folded, spec, frac, sum_peaks)


def _calibrate(
    net: GammaNetwork, folded: list[tuple[GammaLayer, dict]], spec: FixedPointSpec, x: Tensor
) -> tuple[list[int], list[SumPeak | None]]:
    """Per layer: the state scale that fits the largest state seen in a wide integer run,
    and the largest synaptic sum (:data:`SumPeak`)."""
    from sg_lava.reference.fixed import FixedNetwork  # local: fixed imports nothing from here

    wide = replace(CALIBRATION_SPEC, input_frac_bits=spec.input_frac_bits)
    qnet, _ = _quantize(net, folded, wide, [wide.state_frac_bits] * len(folded), None)
    _, _, sat = FixedNetwork(qnet, wrap=False).run(qnet.quantize_input(x.numpy()))
    limit = float((1 << (spec.state_bits - 1)) - 1)
    frac, sums = [], []
    for i, layer in enumerate(qnet.layers):
        states = [v for (li, what), v in sat.peaks.items() if li == i and what != "synapse"]
        peak = max(states, default=0) / 2.0**layer.frac_bits
        frac.append(
            min(MAX_FRAC_BITS, power_of_two_exp(peak * HEADROOM, limit))
            if peak
            else spec.state_frac_bits
        )
        in_frac = wide.input_frac_bits if i == 0 else wide.state_frac_bits
        a_peak = sat.peaks.get((i, "synapse"), 0) / 2.0 ** (layer.neuron.weight_exp + in_frac)
        sums.append((a_peak, layer.neuron.copy_exp) if a_peak else None)
    return frac, sums


def _quantize(
    net: GammaNetwork,
    folded: list[tuple[GammaLayer, dict]],
    spec: FixedPointSpec,
    frac: list[int],
    sum_peaks: list[SumPeak | None] | None,
) -> tuple[QuantizedNetwork, list[LayerReport]]:
    one = 1 << spec.decay_bits
    decays = [
        np.clip(np.round(m.alpha.detach().double().numpy() * one), 1, one - 1).astype(np.int64)
        for m, _ in folded
    ]
    layers, reports = [], []
    for i, (module, g) in enumerate(folded):
        in_frac = spec.input_frac_bits if i == 0 else frac[i - 1]
        peak = sum_peaks[i] if sum_peaks else None
        wq, wexp, copy_exp, wclip, wzero = _synapse_weight(
            module, g, spec, in_frac, peak, max_exp=frac[i] - in_frac + 62
        )
        vq, vexp, vclip = None, 0, 0.0
        if not module.per_synapse:
            vq, vexp, vclip = quantize_mantissa(g["bucket_weight"].numpy(), spec.bucket_weight_bits)
        bias, bias_clipped = _bias(module, frac[i], spec)
        last = i == len(folded) - 1
        neuron = GammaParams(
            decay=decays[i],
            bucket_weight=vq,
            bucket_weight_exp=vexp,
            bias=bias,
            drive_exp=frac[i] - wexp - in_frac,
            copy_exp=copy_exp,
            theta0=int(round(net.theta0 * 2 ** frac[i])),
            mf=int(round(net.m_f * 2**spec.mf_bits)),
            decay_out=0 if last else int(decays[i + 1][0]),
            is_output=last,
            per_synapse=module.per_synapse,
            frac_bits=frac[i],
            weight_exp=wexp,
        )
        geometry = {k: tuple(g[k]) for k in ("stride", "padding", "dilation") if k in g}
        shapes = (tuple(int(n) for n in g["in_shape"]), tuple(int(n) for n in g["shape"]))
        layers.append(
            QuantLayer(module.kind, *shapes, wq, neuron, flatten_from=g["flatten_from"], **geometry)
        )
        reports.append(
            LayerReport(
                i, module.kind, spec.weight_bits, wexp, wclip, wzero, vexp, vclip, bias_clipped,
                [int(d) for d in decays[i]],
            )
        )  # fmt: skip
    cfg, scale = net.config, 2.0**spec.input_frac_bits
    qnet = QuantizedNetwork(
        tuple(net.input_shape),
        layers,
        spec,
        net.timing,
        readout=cfg["readout"],
        input_encoding=cfg["input_encoding"],
        input_theta=int(round(cfg["input_theta"] * scale)),
        input_mf=int(round(cfg["input_mf"] * 2**spec.mf_bits)),
    )
    return qnet, reports


def _copies(module: GammaLayer, g: dict) -> Tensor:
    """The weights the synapse stores: ``W``, or the K copies ``W * V^k`` per synapse."""
    if module.per_synapse:
        return g["weight"].unsqueeze(0) * g["bucket_weight"]
    return g["weight"]


def _sum_limits(
    module: GammaLayer, spec: FixedPointSpec, in_frac: int, sum_peak: SumPeak | None, K: int
) -> np.ndarray | None:
    """Per weight copy, the largest exponent that keeps the calibrated synaptic sums
    ``a = sum(weight * s)`` inside the range where Lava wraps them (24 bits for Conv, the
    int32 accumulator, ``sum_bits``, for Dense); None without calibration. ``sum_peak``'s
    value is the largest sum of the wide run in units of its largest copy's grid, so copy
    ``k``'s sums there were ``value * 2**-offsets[k]`` at most."""
    if not sum_peak:
        return None
    bits = spec.state_bits if module.kind == "conv" else spec.sum_bits
    value, offsets = sum_peak
    base = power_of_two_exp(value * HEADROOM, float((1 << (bits - 1)) - 1)) - in_frac
    return np.full(K, base) + (0 if offsets is None else offsets)


def _synapse_weight(
    module: GammaLayer,
    g: dict,
    spec: FixedPointSpec,
    in_frac: int,
    sum_peak: SumPeak | None,
    max_exp: int,
) -> tuple[np.ndarray, int, np.ndarray | None, float, float]:
    """Weight mantissas of one folded layer: (weight, weight_exp, copy_exp, clipped, zeroed).

    A per-synapse layer's K copies ``W * V^k`` each get the finest grid that holds them:
    with one exponent for all, the copies of small ``V^k`` round to 0 (8 bits zeroed 66-81 %
    of them in a delay-precise model at 4x, docs/resolution.md). ``weight_exp`` is then the
    largest copy's exponent and ``copy_exp[k]`` how much finer copy ``k`` is stored
    (``None`` when all share one grid). No exponent exceeds ``max_exp``, which keeps every
    drive shift in range, nor lets a calibrated synaptic sum leave its range
    (:func:`_sum_limits`).
    """
    w = _copies(module, g)
    K = w.shape[0] if module.per_synapse else 1
    limits = np.full(K, max_exp)
    sums = _sum_limits(module, spec, in_frac, sum_peak, K)
    if sums is not None:
        limits = np.minimum(limits, sums)
    wexp = min(weight_exp(w, spec.weight_bits), int(limits.min()))
    if not module.per_synapse:
        wq, wexp, clipped, zeroed = quantize_weight(w.numpy(), spec.weight_bits, wexp)
        return wq, wexp, None, clipped, zeroed
    # each copy's own exponent, within its limit; an all-zero copy keeps the layer's
    exps = np.maximum(np.minimum(copy_exps(w, spec.weight_bits), limits), wexp)
    shape = (K, *[1] * (w.dim() - 1))
    wq, _, clipped, zeroed = quantize_weight(w.numpy(), spec.weight_bits, exps.reshape(shape))
    copy_exp = (exps - wexp).astype(np.int64)
    return wq, wexp, copy_exp if copy_exp.any() else None, clipped, zeroed


def _fit_payloads(
    folded: list[tuple[GammaLayer, dict]],
    spec: FixedPointSpec,
    frac: list[int],
    sum_peaks: list[SumPeak | None],
) -> list[int]:
    """State scales made coarser where a layer's spikes would push the next layer's weights
    off their grid.

    A hidden layer's spike payloads are its states, at its scale ``2**frac``; the next
    layer's synaptic sums, payload times weight, must stay inside Lava's accumulator (24
    bits for Conv). At the finest scale that the sender's states allow, that limit can fall
    below the exponent the receiver's weights need, and they lose bits: in a conv-conv
    network at the DVS Gesture shape every weight of the second conv rounded to 0. Each bit
    the weights would lose is taken from the sender's scale instead (down to
    :data:`MIN_FRAC_BITS`), where a few bits are cheap: the states keep 2**MIN_FRAC_BITS
    steps per unit or more.
    """
    frac = list(frac)
    for i in range(1, len(folded)):
        module, g = folded[i]
        w = _copies(module, g)
        K = w.shape[0] if module.per_synapse else 1
        limits = _sum_limits(module, spec, frac[i - 1], sum_peaks[i], K)
        if limits is None or not float(w.abs().max()):
            continue
        need = (
            copy_exps(w, spec.weight_bits)
            if module.per_synapse
            else [weight_exp(w, spec.weight_bits)]
        )
        short = int((np.asarray(need) - limits).max())
        if short > 0:
            frac[i - 1] = min(frac[i - 1], max(MIN_FRAC_BITS, frac[i - 1] - short))
    return frac


def _bias(module: GammaLayer, frac: int, spec: FixedPointSpec) -> tuple[np.ndarray, float]:
    """Bias in state units, limited to the state range, and the share that clipped."""
    limit = float((1 << (spec.state_bits - 1)) - 1)
    bias = np.round(module.bias.detach().double().numpy() * 2.0**frac)
    clipped = float(np.mean(np.abs(bias) > limit))
    return np.clip(bias, -limit, limit).astype(np.int64), clipped
