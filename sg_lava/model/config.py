"""The network config: one schema for ``GammaNetwork(config)``, ``model.pt`` and ``net.toml``.

A config is a plain dict (so that ``model.pt`` loads with ``torch.load(weights_only=True)``):
``input_shape``, ``layers`` (dicts with a ``type`` in dense/conv/pool/flatten and their
sizes) and the neuron settings of :data:`DEFAULTS`, which a dense or conv layer may
override (:data:`LAYER_NEURON_KEYS`). :func:`check_config` checks keys, types, ranges and
sizes by integer arithmetic alone, so a config that would allocate more than the limits of
:mod:`sg_lava.export.qnet` is refused before any tensor exists; every problem is one
:class:`ConfigError` naming where it is.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from sg_lava.errors import UserError
from sg_lava.export.encoding import check_encoding
from sg_lava.export.qnet import (
    MAX_K,
    MAX_LAYERS,
    MAX_NEURONS,
    MAX_WEIGHTS,
    TIMINGS,
    WIDTH_RANGES,
    conv_output_hw,
)
from sg_lava.export.readout import check_readout
from sg_lava.limits import check_memory

DEFAULTS: dict[str, Any] = {
    "K": 4,
    "F": 0.5,
    "theta0": 0.1,
    "m_f": None,  # None: m_f = theta0, as in the paper
    "per_synapse": False,
    "timing": "lava",
    # Train through the export's weight grid of this many bits (sg_lava.model.grid.on_weight_grid);
    # None: float weights. sg-export then defaults to the same width.
    "weight_bits": None,
    # The steps whose output is read as the class (sg_lava.export.readout): "task" (a built-in
    # task's own window), "all", "second-half", "last", or the last fraction f in (0, 1].
    "readout": "second-half",
    # What the host sends the first synapse (sg_lava.export.encoding): "direct" (the input),
    # "delta" (changes of at least input_theta) or "sigma-delta" (the neuron's code, signed,
    # threshold input_theta + input_mf * |x(t-1)|); input units.
    "input_encoding": "direct",
    "input_theta": 0.0,
    "input_mf": 0.0,
}
LAYER_NEURON_KEYS = ("K", "F", "per_synapse")  # a dense or conv layer may override these
TOP_KEYS = ("input_shape", "layers", *DEFAULTS)
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "dense": ("out_features", *LAYER_NEURON_KEYS),
    "conv": ("out_channels", "kernel_size", "stride", "padding", "dilation", *LAYER_NEURON_KEYS),
    "pool": ("kernel_size",),
    "flatten": (),
}
REQUIRED = {"dense": ("out_features",), "conv": ("out_channels", "kernel_size"), "pool": ("kernel_size",)}  # fmt: skip
CONV_PAIRS = {"kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1}  # key: minimum


class ConfigError(UserError, ValueError):
    """A network config that cannot be built (also a ValueError for library callers)."""


def check_config(raw: Any, where: str = "network config") -> dict[str, Any]:
    """The config with its defaults filled, or :class:`ConfigError` naming the problem."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a network config must be a table (a dict)")
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {_show(unknown[0])} (allowed: {', '.join(TOP_KEYS)})"
        )
    for key in ("input_shape", "layers"):
        if key not in raw:
            raise ConfigError(f"{where}: missing {key!r}")
    try:
        cfg = {**DEFAULTS, **copy.deepcopy(raw)}
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a network config") from None
    shape = cfg["input_shape"]
    if not isinstance(shape, list | tuple) or len(shape) not in (1, 3):
        raise ConfigError(
            f"{where}: input_shape must be [n] or [channels, height, width], got {_show(shape)}"
        )
    cfg["input_shape"] = [_int(n, f"{where}: input_shape entries", 1, MAX_NEURONS) for n in shape]
    _neuron(cfg, where)
    if not _real(cfg["theta0"]):
        raise ConfigError(f"{where}: theta0 must be a positive number, got {_show(cfg['theta0'])}")
    if cfg["m_f"] is None:
        cfg["m_f"] = cfg["theta0"]
    elif not _real(cfg["m_f"]):
        raise ConfigError(f"{where}: m_f must be a positive number, got {_show(cfg['m_f'])}")
    if cfg["weight_bits"] is not None:
        _int(cfg["weight_bits"], f"{where}: weight_bits", *WIDTH_RANGES["weight_bits"])
    if cfg["timing"] not in TIMINGS:
        raise ConfigError(f"{where}: timing must be one of {TIMINGS}, got {_show(cfg['timing'])}")
    for key in ("input_theta", "input_mf"):
        if not _real(cfg[key]) and cfg[key] != 0:
            raise ConfigError(f"{where}: {key} must be a number >= 0, got {_show(cfg[key])}")
    try:
        cfg["readout"] = check_readout(cfg["readout"])
        check_encoding(cfg["input_encoding"], cfg["input_theta"])
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    layers = cfg["layers"]
    if not isinstance(layers, list) or not layers or not all(isinstance(t, dict) for t in layers):
        raise ConfigError(f"{where}: layers must be a list of one or more [[layers]] tables")
    if len(layers) > MAX_LAYERS:
        raise ConfigError(f"{where}: a network has at most {MAX_LAYERS} layers")
    for i, spec in enumerate(layers):
        _layer(spec, f"{where}: layer {i}")
    if not any(layer["type"] in ("dense", "conv") for layer in layers):
        raise ConfigError(f"{where}: a network needs at least one dense or conv layer")
    if layers[-1]["type"] not in ("dense", "conv"):
        raise ConfigError(f"{where}: the last layer must be a dense or conv layer")
    _sizes(cfg, where)
    return cfg


def architecture(config: dict[str, Any]) -> str:
    """A checked config's layers and sizes in one line, e.g. ``input [2], dense 32, dense 3;
    K 8`` (for messages that compare two networks)."""
    parts = [f"input {list(config['input_shape'])}"]
    for spec in config["layers"]:
        kind = spec["type"]
        if kind == "dense":
            size = str(spec["out_features"])
        elif kind == "conv":
            extra = [f"{k[0]}{spec[k]}" for k in ("stride", "padding", "dilation") if k in spec]
            size = " ".join([str(spec["out_channels"]), f"k{spec['kernel_size']}", *extra])
        else:
            size = str(spec.get("kernel_size", ""))
        own = [f"{k} {spec[k]}" for k in ("K", "per_synapse") if k in spec]
        parts.append(f"{kind} {size}".strip() + (f" ({', '.join(own)})" if own else ""))
    synapse = ", per-synapse" if config.get("per_synapse") else ""
    return f"{', '.join(parts)}; K {config['K']}{synapse}"


def _layer(spec: dict[str, Any], where: str) -> None:
    kind = spec.get("type")
    if kind not in LAYER_KEYS:
        raise ConfigError(
            f"{where}: type must be one of {', '.join(LAYER_KEYS)}, got {_show(kind)}"
        )
    allowed = ("type", *LAYER_KEYS[kind])
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {_show(unknown[0])} for a {kind} layer (allowed: {', '.join(allowed)})"
        )
    for key in REQUIRED.get(kind, ()):
        if key not in spec:
            raise ConfigError(f"{where}: a {kind} layer needs {key!r}")
    for key in ("out_features", "out_channels"):
        if key in spec:
            _int(spec[key], f"{where}: {key}", 1, MAX_NEURONS)
    if kind == "pool":
        _int(spec["kernel_size"], f"{where}: pool kernel_size", 1, 4096)
    if kind == "conv":
        for key, low in CONV_PAIRS.items():
            if key in spec:
                _pair(spec[key], f"{where}: {key}", low)
    _neuron(spec, where)


def _neuron(spec: dict[str, Any], where: str) -> None:
    if "K" in spec:
        _int(spec["K"], f"{where}: K", 1, MAX_K)
    if "F" in spec and not _real(spec["F"]):
        raise ConfigError(f"{where}: F must be a positive number, got {_show(spec['F'])}")
    if "per_synapse" in spec and not isinstance(spec["per_synapse"], bool):
        raise ConfigError(
            f"{where}: per_synapse must be true or false, got {_show(spec['per_synapse'])}"
        )


def _sizes(cfg: dict[str, Any], where: str) -> None:
    """Layer shapes that fit together, and the parameter count within the limits."""
    shape = tuple(cfg["input_shape"])
    total = 0
    for i, spec in enumerate(cfg["layers"]):
        kind, here = spec["type"], f"{where}: layer {i}"
        K = spec.get("K", cfg["K"])
        if kind == "dense":
            if len(shape) != 1:
                raise ConfigError(f"{here}: a dense layer needs a flat input: add a flatten")
            out = (spec["out_features"],)
            weights = out[0] * shape[0]
        elif kind == "conv":
            if len(shape) != 3:
                raise ConfigError(
                    f"{here}: a conv layer takes (channels, height, width), gets {list(shape)}"
                )
            ks, st, pad, dil = (_pair(spec.get(k, lo), k, lo) for k, lo in CONV_PAIRS.items())
            hw = conv_output_hw(shape[1:], ks, st, pad, dil)
            if min(hw) < 1:
                raise ConfigError(
                    f"{here}: the conv layer leaves no output for input {list(shape)}"
                )
            out, weights = (
                (spec["out_channels"], *hw),
                spec["out_channels"] * shape[0] * ks[0] * ks[1],
            )
        elif kind == "flatten":
            if len(shape) != 3:
                raise ConfigError(
                    f"{here}: flatten takes (channels, height, width), gets {list(shape)}"
                )
            shape = (math.prod(shape),)
            continue
        else:  # pool
            k = spec["kernel_size"]
            if len(shape) != 3:
                raise ConfigError(
                    f"{here}: pool takes (channels, height, width), gets {list(shape)}"
                )
            if shape[1] % k or shape[2] % k:
                raise ConfigError(f"{here}: pool size {k} does not divide input {list(shape)}")
            shape = (shape[0], shape[1] // k, shape[2] // k)
            continue
        if math.prod(out) > MAX_NEURONS:
            raise ConfigError(f"{here}: {math.prod(out)} neurons exceed the limit {MAX_NEURONS}")
        if weights * (K if spec.get("per_synapse", cfg["per_synapse"]) else 1) > MAX_WEIGHTS:
            raise ConfigError(f"{here}: {weights} weights exceed the limit {MAX_WEIGHTS}")
        total += weights * (K + 1)
        shape = out
    check_memory(total * 4, f"{where}: the network's ~{total} parameters", ConfigError)


def _show(value: Any, limit: int = 60) -> str:
    """A value of the user's file in a message: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{what} must be an integer in [{lo}, {hi}], got {_show(value)}")
    return value


def _pair(value: Any, what: str, lo: int) -> tuple[int, int]:
    v = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(v, list | tuple) or len(v) != 2:
        raise ConfigError(f"{what} must be an integer or a pair, got {_show(value)}")
    return (_int(v[0], what, lo, 4096), _int(v[1], what, lo, 4096))


def _real(value: Any) -> bool:
    """A finite positive number (not a bool)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and 0 < value < float("inf")
