"""A user's network: ``net.toml`` -> the config dict :class:`~sg_lava.network.GammaNetwork` takes.

The file holds exactly the config the model already uses (``docs/data.md``): the neuron
settings of :data:`sg_lava.network.DEFAULTS` and ``input_shape`` at the top level, and one
``[[layers]]`` table per layer with a ``type`` (dense, conv, pool, flatten) and its sizes.
Every problem — bad TOML, an unknown key, a size that is not a positive integer, layers
that do not fit together, a network that does not fit the data — is one line naming the
file (:class:`~sg_lava.errors.UserError`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sg_lava.errors import UserError
from sg_lava.export.qnet import TIMINGS, WIDTH_RANGES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

NEURON_KEYS = ("K", "F", "per_synapse")  # a layer table may override these
TOP_KEYS = ("input_shape", "layers", "theta0", "m_f", "timing", "weight_bits", *NEURON_KEYS)
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "dense": ("out_features", *NEURON_KEYS),
    "conv": ("out_channels", "kernel_size", "stride", "padding", "dilation", *NEURON_KEYS),
    "pool": ("kernel_size",),
    "flatten": (),
}
REQUIRED = {"dense": ("out_features",), "conv": ("out_channels", "kernel_size"), "pool": ("kernel_size",)}  # fmt: skip
MINIMUM = {"out_features": 1, "out_channels": 1, "kernel_size": 1, "stride": 1, "dilation": 1, "padding": 0, "K": 1}  # fmt: skip


def read_net_toml(path: str | Path) -> dict[str, Any]:
    """Parse and check ``net.toml``; returns the network config (a plain dict)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: not found (expected a network config in TOML)")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid TOML ({str(err).splitlines()[0][:120]})") from None
    config = check_config(raw, str(path))
    build_network(config, str(path))  # layer sizes that do not fit together fail here
    return config


def check_config(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """Check keys, types and ranges of a network config; ``where`` names it in errors."""
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(TOP_KEYS)})")
    for key in ("input_shape", "layers"):
        if key not in raw:
            raise UserError(f"{where}: missing {key!r}")
    shape = raw["input_shape"]
    if not isinstance(shape, list) or not shape or not all(_is_int(n, 1) for n in shape):
        raise UserError(f"{where}: input_shape must be a list of positive integers, got {shape!r}")
    _check_neuron(raw, where)
    if "theta0" in raw and not _is_real(raw["theta0"], positive=True):
        raise UserError(f"{where}: theta0 must be a positive number, got {raw['theta0']!r}")
    if raw.get("m_f") is not None and not _is_real(raw["m_f"], positive=True):
        raise UserError(f"{where}: m_f must be a positive number, got {raw['m_f']!r}")
    lo, hi = WIDTH_RANGES["weight_bits"]
    if raw.get("weight_bits") is not None and not (
        _is_int(raw["weight_bits"], lo) and raw["weight_bits"] <= hi
    ):
        raise UserError(
            f"{where}: weight_bits must be an integer in [{lo}, {hi}], got {raw['weight_bits']!r}"
        )
    if "timing" in raw and raw["timing"] not in TIMINGS:
        raise UserError(f"{where}: timing must be one of {TIMINGS}, got {raw['timing']!r}")
    layers = raw["layers"]
    if not isinstance(layers, list) or not layers or not all(isinstance(t, dict) for t in layers):
        raise UserError(f"{where}: layers must be one or more [[layers]] tables")
    for i, spec in enumerate(layers):
        _check_layer(spec, f"{where}: layer {i}")
    return {**raw, "input_shape": [int(n) for n in shape]}


def build_network(config: dict[str, Any], where: str):
    """The :class:`GammaNetwork` of ``config``; shape errors become one line."""
    from sg_lava.network import GammaNetwork

    if len(config["input_shape"]) not in (1, 3):
        raise UserError(f"{where}: input_shape must be [n] or [channels, height, width]")
    try:
        net = GammaNetwork(config)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        msg = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise UserError(f"{where}: the layers do not fit together ({msg})") from None
    for i, (spec, (in_shape, _)) in enumerate(zip(config["layers"], net.shapes)):
        if spec["type"] in ("conv", "pool", "flatten") and len(in_shape) != 3:
            raise UserError(
                f"{where}: layer {i} ({spec['type']}) takes (channels, height, width), "
                f"gets {list(in_shape)}"
            )
    return net


def output_classes(net, where: str) -> int:
    """Classes a network reads out: the size of its last layer, which must be flat."""
    out_shape = net.shapes[-1][1]
    if len(out_shape) != 1:
        raise UserError(
            f"{where}: the last layer must give one value per class (a dense layer), "
            f"it gives shape {tuple(out_shape)}"
        )
    return int(out_shape[0])


def _check_layer(spec: dict[str, Any], where: str) -> None:
    kind = spec.get("type")
    if kind not in LAYER_KEYS:
        raise UserError(f"{where}: type must be one of {', '.join(LAYER_KEYS)}, got {kind!r}")
    allowed = ("type", *LAYER_KEYS[kind])
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise UserError(
            f"{where}: unknown key {unknown[0]!r} for a {kind} layer (allowed: {', '.join(allowed)})"
        )
    for key in REQUIRED.get(kind, ()):
        if key not in spec:
            raise UserError(f"{where}: a {kind} layer needs {key!r}")
    for key, low in MINIMUM.items():
        if key in spec and key != "K":
            value = spec[key]
            pair = isinstance(value, list) and len(value) == 2 and kind == "conv"
            if not (_is_int(value, low) or (pair and all(_is_int(v, low) for v in value))):
                raise UserError(f"{where}: {key} must be an integer >= {low}, got {value!r}")
    _check_neuron(spec, where)


def _check_neuron(spec: dict[str, Any], where: str) -> None:
    if "K" in spec and not _is_int(spec["K"], 1):
        raise UserError(f"{where}: K must be an integer >= 1, got {spec['K']!r}")
    if "F" in spec and not _is_real(spec["F"], positive=True):
        raise UserError(f"{where}: F must be a positive number, got {spec['F']!r}")
    if "per_synapse" in spec and not isinstance(spec["per_synapse"], bool):
        raise UserError(f"{where}: per_synapse must be true or false, got {spec['per_synapse']!r}")


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_real(value: Any, positive: bool = False) -> bool:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    return ok and (not positive or value > 0) and value != float("inf")
