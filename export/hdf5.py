"""``net.h5``: write, read and validate the netx-style HDF5 file (h5py and numpy only).

The layout follows lava-dl's netx format — ``layer/0..n-1`` groups with ``type``,
``shape``, ``weight``, ``bias`` and the dense/conv geometry exactly as netx writes them —
and adds a ``neuron`` group of type ``GAMMA`` holding every parameter of the integer
model as integers, plus a format name, version, timing, fixed-point widths and
provenance. ``docs/format.md`` is the schema; :func:`validate` enforces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sg_lava.errors import UserError
from sg_lava.export.qnet import FixedPointSpec, QuantizedNetwork, QuantLayer
from sg_lava.files import atomic_write

FORMAT_NAME = "sg-lava-netx"
FORMAT_VERSION = (1, 0)
NEURON_TYPE = "GAMMA"
MESSAGE_BITS = 24
TIMINGS = ("lava", "zero")

# neuron/<key>: (dtype kind, ndim) — every parameter of QuantLayer that is not synapse geometry
NEURON_SCALARS = (
    "K",
    "drive_exp",
    "theta0",
    "mf",
    "decay_out",
    "is_output",
    "per_synapse",
    "frac_bits",
    "weight_exp",
    "bucket_weight_exp",
    "message_bits",
)


class FormatError(UserError):
    """A file that is not a valid sg-lava network file."""


def _type_dataset(group: h5py.Group, value: str) -> None:
    group.create_dataset("type", (1,), "S10", [value.encode("ascii")])  # as slayer writes it


def _write_layer(group: h5py.Group, layer: QuantLayer, spec: FixedPointSpec) -> None:
    _type_dataset(group, layer.kind)
    group.create_dataset("shape", data=np.array(layer.shape))
    weight = np.asarray(layer.weight)
    if layer.per_synapse:  # K copies stacked on the output axis: rows k*out + j
        weight = weight.reshape(-1, *weight.shape[2:])
    group.create_dataset("weight", data=weight.astype(np.float32))
    group.create_dataset("bias", data=np.asarray(layer.bias).astype(np.float32))
    if layer.kind == "dense":
        group.create_dataset("inFeatures", data=int(np.prod(layer.in_shape)))
        group.create_dataset("outFeatures", data=int(layer.shape[0]))
    else:
        group.create_dataset("inChannels", data=int(layer.in_shape[0]))
        group.create_dataset("outChannels", data=int(layer.shape[0]))
        group.create_dataset("kernelSize", data=np.array(layer.kernel_size))
        group.create_dataset("stride", data=np.array(layer.stride))
        group.create_dataset("padding", data=np.array(layer.padding))
        group.create_dataset("dilation", data=np.array(layer.dilation))
        group.create_dataset("groups", data=1)
    neuron = group.create_group("neuron")
    neuron.create_dataset("type", data=NEURON_TYPE)
    neuron.create_dataset("decay", data=np.asarray(layer.decay, dtype=np.int64))
    if layer.bucket_weight is not None:
        neuron.create_dataset("bucket_weight", data=np.asarray(layer.bucket_weight, dtype=np.int64))
    values = {
        "K": layer.K,
        "drive_exp": layer.drive_exp,
        "theta0": layer.theta0,
        "mf": layer.mf,
        "decay_out": layer.decay_out,
        "is_output": int(layer.is_output),
        "per_synapse": int(layer.per_synapse),
        "frac_bits": layer.frac_bits,
        "weight_exp": layer.weight_exp,
        "bucket_weight_exp": layer.bucket_weight_exp,
        "message_bits": MESSAGE_BITS,
    }
    for key in NEURON_SCALARS:
        neuron.create_dataset(key, data=np.int64(values[key]))


def write(qnet: QuantizedNetwork, path: str | Path, meta: dict[str, Any] | None = None) -> None:
    """Write ``qnet`` to ``path`` atomically (a failure leaves no file there)."""
    problems = validate_network(qnet)
    if problems:
        raise FormatError(f"refusing to write an invalid network: {problems[0]}")

    def body(f) -> None:
        with h5py.File(f, "w") as h:
            h.attrs["format"] = FORMAT_NAME
            h.attrs["format_version"] = "{}.{}".format(*FORMAT_VERSION)
            h.attrs["timing"] = qnet.timing
            for key, value in {**qnet.meta, **(meta or {})}.items():
                h.attrs[key] = str(value)
            fp = h.create_group("fixed_point")
            for key, value in qnet.spec.as_dict().items():
                fp.create_dataset(key, data=np.int64(value))
            layers = h.create_group("layer")
            index = 0
            inp = layers.create_group(str(index))
            _type_dataset(inp, "input")
            inp.create_dataset("shape", data=np.array(qnet.input_shape))
            for layer in qnet.layers:
                if layer.flatten_from is not None:
                    index += 1
                    flat = layers.create_group(str(index))
                    _type_dataset(flat, "flatten")
                    flat.create_dataset("shape", data=np.array(layer.in_shape))
                index += 1
                _write_layer(layers.create_group(str(index)), layer, qnet.spec)

    atomic_write(path, body)


def _read_type(group: h5py.Group) -> str:
    value = group["type"][()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _int(group: h5py.Group, key: str, where: str) -> int:
    if key not in group:
        raise FormatError(f"{where}: missing '{key}'")
    value = np.asarray(group[key][()])
    if value.size != 1 or not np.issubdtype(value.dtype, np.number):
        raise FormatError(f"{where}: '{key}' must be one number")
    v = value.reshape(-1)[0]
    if not float(v).is_integer():
        raise FormatError(f"{where}: '{key}' must be an integer, got {v}")
    return int(v)


def _ints(group: h5py.Group, key: str, where: str, ndim: int | None = None) -> np.ndarray:
    if key not in group:
        raise FormatError(f"{where}: missing '{key}'")
    value = np.asarray(group[key][()])
    if not np.issubdtype(value.dtype, np.number):
        raise FormatError(f"{where}: '{key}' must be numeric, got {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise FormatError(f"{where}: '{key}' must have {ndim} dimensions, has {value.ndim}")
    if not np.all(np.isfinite(value)) or not np.all(np.mod(value, 1) == 0):
        raise FormatError(f"{where}: '{key}' must hold integers")
    return value.astype(np.int64)


def _check_version(h: h5py.File, path: Path) -> None:
    name = h.attrs.get("format")
    if isinstance(name, bytes):
        name = name.decode()
    if name != FORMAT_NAME:
        raise FormatError(f"{path} is not an sg-lava network file (format attribute: {name!r})")
    raw = h.attrs.get("format_version", "")
    raw = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        major, minor = (int(p) for p in raw.split("."))
    except ValueError:
        raise FormatError(f"{path}: unreadable format_version {raw!r}") from None
    if major > FORMAT_VERSION[0]:
        raise FormatError(
            f"{path} has format version {major}.{minor}, newer than this sg-lava reads "
            f"({FORMAT_VERSION[0]}.x); upgrade sg-lava"
        )


def _read_layer(
    g: h5py.Group, where: str, in_shape: tuple[int, ...], flatten_from, spec
) -> QuantLayer:
    kind = _read_type(g)
    shape = tuple(int(n) for n in _ints(g, "shape", where, 1))
    if "neuron" not in g:
        raise FormatError(f"{where}: missing 'neuron' group")
    n = g["neuron"]
    nwhere = f"{where}/neuron"
    ntype = _read_type(n) if "type" in n else None
    if ntype != NEURON_TYPE:
        raise FormatError(f"{nwhere}: type must be {NEURON_TYPE!r}, got {ntype!r}")
    vals = {key: _int(n, key, nwhere) for key in NEURON_SCALARS}
    decay = _ints(n, "decay", nwhere, 1)
    per_synapse = bool(vals["per_synapse"])
    K = vals["K"]
    weight = _ints(g, "weight", where)
    if per_synapse:
        if weight.shape[0] % max(K, 1):
            raise FormatError(
                f"{where}: per-synapse weight rows {weight.shape[0]} not a multiple of K={K}"
            )
        weight = weight.reshape(K, weight.shape[0] // K, *weight.shape[1:])
    bucket_weight = None if per_synapse else _ints(n, "bucket_weight", nwhere, 2)
    geo: dict[str, Any] = {}
    if kind == "conv":
        for key in ("stride", "padding", "dilation"):
            geo[key] = tuple(int(v) for v in _ints(g, key, where, 1))
        if _int(g, "groups", where) != 1:
            raise FormatError(f"{where}: only groups = 1 is supported")
    elif kind != "dense":
        raise FormatError(f"{where}: unknown layer type {kind!r}")
    return QuantLayer(
        kind=kind,
        in_shape=in_shape,
        shape=shape,
        weight=weight,
        weight_exp=vals["weight_exp"],
        bias=_ints(g, "bias", where, 1),
        decay=decay,
        drive_exp=vals["drive_exp"],
        theta0=vals["theta0"],
        mf=vals["mf"],
        decay_out=vals["decay_out"],
        is_output=bool(vals["is_output"]),
        per_synapse=per_synapse,
        frac_bits=vals["frac_bits"],
        bucket_weight=bucket_weight,
        bucket_weight_exp=vals["bucket_weight_exp"],
        flatten_from=flatten_from,
        **geo,
    )


def read(path: str | Path) -> QuantizedNetwork:
    """Read and validate a network file; any problem raises :class:`FormatError`."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"network file not found: {path}")
    try:
        h = h5py.File(path, "r")
    except OSError:
        raise FormatError(f"{path} is not a readable HDF5 file (corrupt or truncated)") from None
    try:
        with h:
            qnet = _read(h, path)
    except FormatError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise FormatError(
            f"{path}: unreadable content ({type(err).__name__}: {str(err)[:120]})"
        ) from None
    problems = validate_network(qnet)
    if problems:
        raise FormatError(f"{path}: {problems[0]}")
    return qnet


def _read(h: h5py.File, path: Path) -> QuantizedNetwork:
    _check_version(h, path)
    timing = h.attrs.get("timing", "")
    timing = timing.decode() if isinstance(timing, bytes) else str(timing)
    if timing not in TIMINGS:
        raise FormatError(f"{path}: timing must be one of {TIMINGS}, got {timing!r}")
    if "fixed_point" not in h:
        raise FormatError(f"{path}: missing 'fixed_point' group")
    fields = FixedPointSpec.__dataclass_fields__
    spec = FixedPointSpec(**{k: _int(h["fixed_point"], k, "fixed_point") for k in fields})
    if "layer" not in h:
        raise FormatError(f"{path}: missing 'layer' group")
    groups = h["layer"]
    keys = sorted(groups.keys(), key=lambda k: int(k) if k.isdigit() else -1)
    if keys != [str(i) for i in range(len(keys))] or not keys:
        raise FormatError(f"{path}: layers must be named 0..n-1")
    first = groups["0"]
    if _read_type(first) != "input":
        raise FormatError(f"{path}: layer/0 must be the input layer")
    shape = tuple(int(n) for n in _ints(first, "shape", "layer/0", 1))
    input_shape = shape
    layers: list[QuantLayer] = []
    flatten_from = None
    for key in keys[1:]:
        g, where = groups[key], f"layer/{key}"
        kind = _read_type(g)
        if kind == "flatten":
            flatten_from, shape = shape, (int(np.prod(shape)),)
            continue
        layer = _read_layer(g, where, shape, flatten_from, spec)
        layers.append(layer)
        shape, flatten_from = layer.shape, None
    meta = {
        k: (v.decode() if isinstance(v, bytes) else str(v))
        for k, v in h.attrs.items()
        if k not in ("format", "format_version", "timing")
    }
    return QuantizedNetwork(input_shape, layers, spec, timing, meta)


def validate_network(qnet: QuantizedNetwork) -> list[str]:
    """Every problem with a network's values and shapes (empty when valid)."""
    out: list[str] = []
    spec = qnet.spec
    if not qnet.layers:
        return ["the network has no layers"]
    if qnet.timing not in TIMINGS:
        out.append(f"timing must be one of {TIMINGS}")
    one = 1 << spec.decay_bits
    smax = (1 << (spec.state_bits - 1)) - 1
    wmax = (1 << spec.weight_bits) - 2  # stored doubled, symmetric: [-(2^W - 2), 2^W - 2]
    shape = tuple(qnet.input_shape)
    for i, L in enumerate(qnet.layers):
        where = f"layer {i} ({L.kind})"
        C = L.shape[0]
        w = np.asarray(L.weight)
        if L.kind == "dense":
            if len(L.shape) != 1:
                out.append(f"{where}: dense shape must be (N,), got {L.shape}")
            expect = (C, int(np.prod(shape)))
        elif L.kind == "conv":
            if len(L.shape) != 3 or len(shape) != 3:
                out.append(f"{where}: conv needs (C, H, W) shapes, got {shape} -> {L.shape}")
                continue
            expect = (C, shape[0], *w.shape[-2:])
            hw = [
                (n + 2 * p - d * (k - 1) - 1) // s + 1
                for n, p, d, k, s in zip(shape[1:], L.padding, L.dilation, w.shape[-2:], L.stride)
            ]
            if tuple(hw) != tuple(L.shape[1:]):
                out.append(f"{where}: geometry gives {tuple(hw)}, shape says {L.shape[1:]}")
        else:
            out.append(f"{where}: unknown layer type")
            continue
        if L.per_synapse:
            expect = (L.K, *expect)
        if w.shape != expect:
            out.append(f"{where}: weight shape {w.shape}, expected {expect}")
        if w.size and (w.min() < -wmax or w.max() > wmax or np.any(w % 2)):
            out.append(f"{where}: weights must be even integers in [{-wmax}, {wmax}]")
        if L.K < 1 or np.asarray(L.decay).shape != (L.K,):
            out.append(f"{where}: decay must have K = {L.K} entries")
        elif np.any(np.asarray(L.decay) < 1) or np.any(np.asarray(L.decay) > one - 1):
            out.append(f"{where}: decays must lie in [1, {one - 1}]")
        if np.asarray(L.bias).shape != (C,):
            out.append(f"{where}: bias must have {C} entries")
        elif np.any(np.abs(np.asarray(L.bias)) > smax):
            out.append(f"{where}: bias outside the {spec.state_bits}-bit state range")
        if not L.per_synapse:
            v = np.asarray(L.bucket_weight) if L.bucket_weight is not None else None
            vmax = 1 << (spec.bucket_weight_bits - 1)
            if v is None or v.shape != (L.K, C):
                out.append(f"{where}: bucket_weight must have shape ({L.K}, {C})")
            elif v.size and (v.min() < -vmax or v.max() > vmax - 1):
                out.append(f"{where}: bucket weights outside {spec.bucket_weight_bits} bits")
        if not 0 <= L.theta0 <= smax or not 0 <= L.mf < (1 << spec.state_bits):
            out.append(f"{where}: theta0 and mf must be non-negative and in range")
        if not -62 <= L.drive_exp <= 62 or not -62 <= L.bucket_weight_exp <= 62:
            out.append(f"{where}: exponents out of range")
        last = i == len(qnet.layers) - 1
        if L.is_output != last:
            out.append(f"{where}: only the last layer is the output layer")
        expected_out = 0 if last else int(np.asarray(qnet.layers[i + 1].decay)[0])
        if L.decay_out != expected_out:
            out.append(
                f"{where}: decay_out {L.decay_out} must be the next layer's first decay {expected_out}"
            )
        if (
            tuple(L.in_shape) != (int(np.prod(shape)),)
            if L.kind == "dense"
            else tuple(L.in_shape) != shape
        ):
            out.append(
                f"{where}: input shape {L.in_shape} does not follow the previous layer {shape}"
            )
        shape = tuple(L.shape)
    return out
