"""``net.h5``: write, read and validate the netx-style HDF5 file (h5py and numpy only).

The layout follows lava-dl's netx format — ``layer/0..n-1`` groups with ``type``,
``shape``, ``weight``, ``bias`` and the dense/conv geometry exactly as netx writes them —
and adds a ``neuron`` group of type ``GAMMA`` holding every parameter of
:class:`~sg_lava.export.neuron.GammaParams` as integers, plus a format name, version,
timing, fixed-point widths and provenance. ``docs/format.md`` is the schema;
:func:`validate_network` enforces it. The neuron datasets are derived from the parameter
type's fields, never listed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sg_lava.errors import UserError
from sg_lava.export.encoding import check_encoding
from sg_lava.export.neuron import GammaParams, param_infos
from sg_lava.export.qnet import (
    MAX_K,
    MAX_LAYERS,
    MAX_MESSAGE,
    MAX_NEURONS,
    MAX_WEIGHTS,
    MESSAGE_BITS,
    TIMINGS,
    FixedPointSpec,
    QuantizedNetwork,
    QuantLayer,
    conv_output_hw,
)
from sg_lava.export.readout import check_readout
from sg_lava.files import atomic_write
from sg_lava.h5files import numeric, open_confined, text

FORMAT_NAME = "sg-lava-netx"
# The newest version this reader reads. 2.0 added ``copy_exp``, which changes the dynamics
# of a per-synapse layer: a 1.x reader must refuse such a file, not ignore the field; 3.0
# added the input encoder, which changes what the first synapse receives.
# The writer writes the lowest version that describes the file (:func:`file_version`).
FORMAT_VERSION = (3, 0)
NEURON_TYPE = "GAMMA"


def derived(params: GammaParams) -> dict[str, int]:
    """Redundant neuron datasets, written for netx-style readers and checked on reading."""
    return {"K": params.K, "message_bits": MESSAGE_BITS}


class FormatError(UserError):
    """A file that is not a valid sg-lava network file."""


def _type_dataset(group: h5py.Group, value: str) -> None:
    group.create_dataset("type", (1,), "S10", [value.encode("ascii")])  # as slayer writes it


def _write_synapse(group: h5py.Group, layer: QuantLayer) -> None:
    """The netx part of a layer: type, shape, weight and geometry."""
    _type_dataset(group, layer.kind)
    group.create_dataset("shape", data=np.array(layer.shape))
    weight = np.asarray(layer.weight)
    if layer.per_synapse:  # K copies stacked on the output axis: rows k*out + j
        weight = weight.reshape(-1, *weight.shape[2:])
    group.create_dataset("weight", data=weight.astype(np.float32))
    if layer.kind == "dense":
        group.create_dataset("inFeatures", data=int(np.prod(layer.in_shape)))
        group.create_dataset("outFeatures", data=int(layer.shape[0]))
        return
    group.create_dataset("inChannels", data=int(layer.in_shape[0]))
    group.create_dataset("outChannels", data=int(layer.shape[0]))
    group.create_dataset("kernelSize", data=np.array(layer.kernel_size))
    for key in ("stride", "padding", "dilation"):
        group.create_dataset(key, data=np.array(getattr(layer, key)))
    group.create_dataset("groups", data=1)


def _write_neuron(group: h5py.Group, params: GammaParams) -> None:
    """Every parameter where its metadata puts it; ``bias`` as float32, as netx stores it."""
    neuron = group.create_group("neuron")
    neuron.create_dataset("type", data=NEURON_TYPE)
    for key, value in derived(params).items():
        neuron.create_dataset(key, data=np.int64(value))
    for name, info, value in params.items():
        if value is None:
            continue
        if info.location == "layer":
            group.create_dataset(name, data=np.asarray(value).astype(np.float32))
        else:
            neuron.create_dataset(name, data=np.asarray(value, dtype=np.int64))


def file_version(qnet: QuantizedNetwork) -> tuple[int, int]:
    """The lowest format version that holds ``qnet``: 3.0 with an input encoder, 2.0 when
    a layer has ``copy_exp`` (so that older readers refuse what they would misread), 1.0
    otherwise (so that they still read it)."""
    if qnet.input_encoding != "direct":
        return (3, 0)
    return (2, 0) if any(L.neuron.copy_exp is not None for L in qnet.layers) else (1, 0)


def write(
    qnet: QuantizedNetwork, path: str | Path, meta: dict[str, Any] | None = None, inputs=()
) -> None:
    """Write ``qnet`` to ``path`` atomically (a failure leaves no file there); ``inputs``
    are the command's input files, which ``path`` must not be."""
    problems = validate_network(qnet)
    if problems:
        raise FormatError(f"refusing to write an invalid network: {problems[0]}")

    def body(f) -> None:
        with h5py.File(f, "w") as h:
            h.attrs["format"] = FORMAT_NAME
            h.attrs["format_version"] = "{}.{}".format(*file_version(qnet))
            h.attrs["timing"] = qnet.timing
            if qnet.readout is not None:
                h.attrs["readout"] = str(qnet.readout)
            if qnet.input_encoding != "direct":
                code = h.create_group("input_code")
                code.attrs["encoding"] = qnet.input_encoding
                code.create_dataset("theta", data=np.int64(qnet.input_theta))
                code.create_dataset("mf", data=np.int64(qnet.input_mf))
            for key, value in {**qnet.meta, **(meta or {})}.items():
                h.attrs[key] = str(value)
            fp = h.create_group("fixed_point")
            for key, value in qnet.spec.as_dict().items():
                fp.create_dataset(key, data=np.int64(value))
            layers = h.create_group("layer")

            def plain(kind: str, shape: tuple[int, ...]) -> None:  # input, flatten
                group = layers.create_group(str(len(layers)))
                _type_dataset(group, kind)
                group.create_dataset("shape", data=np.array(shape))

            plain("input", qnet.input_shape)
            for layer in qnet.layers:
                if layer.flatten_from is not None:
                    plain("flatten", layer.in_shape)
                group = layers.create_group(str(len(layers)))
                _write_synapse(group, layer)
                _write_neuron(group, layer.neuron)

    atomic_write(path, body, inputs)


def _read_type(group: h5py.Group) -> str:
    ds = group["type"] if "type" in group else None
    if not isinstance(ds, h5py.Dataset) or int(np.prod(ds.shape or ())) != 1:
        raise FormatError(f"{group.name}: 'type' must be one short string")
    if ds.dtype.kind not in "SOU" or ds.dtype.itemsize > 64:
        raise FormatError(f"{group.name}: 'type' must be one short string")
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _dataset(group: h5py.Group, key: str, where: str) -> h5py.Dataset:
    """A numeric dataset, its declared type checked before anything is read."""
    if key not in group:
        raise FormatError(f"{where}: missing '{key}'")
    ds = group[key]
    if not isinstance(ds, h5py.Dataset):
        raise FormatError(f"{where}: '{key}' must be a dataset")
    if ds.dtype.kind not in "iufb":
        raise FormatError(f"{where}: '{key}' must be numeric")
    return ds


def _int(group: h5py.Group, key: str, where: str) -> int:
    ds = _dataset(group, key, where)
    if int(np.prod(ds.shape or ())) != 1:
        raise FormatError(f"{where}: '{key}' must be one number")
    v = np.asarray(ds[()]).reshape(-1)[0]
    if not np.isfinite(v) or not float(v).is_integer() or abs(float(v)) > 2**62:
        raise FormatError(f"{where}: '{key}' must be an integer")
    return int(v)


def _ints(
    group: h5py.Group,
    key: str,
    where: str,
    ndim: int | None = None,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """An integer array whose declared shape is checked before it is read."""
    ds = _dataset(group, key, where)
    if ndim is not None and len(ds.shape) != ndim:
        raise FormatError(f"{where}: '{key}' must have {ndim} dimensions, has {len(ds.shape)}")
    if shape is not None and tuple(ds.shape) != tuple(shape):
        raise FormatError(f"{where}: '{key}' has shape {tuple(ds.shape)}, expected {shape}")
    if int(np.prod(ds.shape)) > MAX_WEIGHTS:
        raise FormatError(
            f"{where}: '{key}' declares {int(np.prod(ds.shape))} entries (limit {MAX_WEIGHTS})"
        )
    value = np.asarray(ds[()])
    if not np.all(np.isfinite(value)):
        raise FormatError(f"{where}: '{key}' must hold finite integers (has NaN or inf)")
    if np.any(np.abs(value) > 2**62) or not np.all(np.mod(value, 1) == 0):
        raise FormatError(f"{where}: '{key}' must hold integers")
    return value.astype(np.int64)


def _dims(group: h5py.Group, key: str, where: str, limit: int = MAX_NEURONS) -> tuple[int, ...]:
    """A short vector of sizes (a shape, a kernel size), each in [1, limit]."""
    dims = tuple(int(n) for n in _ints(group, key, where, 1))
    if not 1 <= len(dims) <= 4 or any(n < 1 for n in dims) or int(np.prod(dims)) > limit:
        raise FormatError(
            f"{where}: '{key}' must be 1 to 4 sizes, each >= 1, at most {limit} in all"
        )
    return dims


def _accept(ds: h5py.Dataset) -> bool:
    """The format holds numbers, and single strings (``type``)."""
    return numeric(ds) or text(ds)


def _check_version(h: h5py.File, path: Path) -> None:
    name = h.attrs.get("format")
    if isinstance(name, bytes):
        name = name.decode()
    if name != FORMAT_NAME:
        raise FormatError(f"{path} is not an sg-lava network file (no format {FORMAT_NAME!r})")
    raw = h.attrs.get("format_version", "")
    raw = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        major, minor = (int(p) for p in raw.split("."))
    except ValueError:
        raise FormatError(f"{path}: unreadable format_version (expected 'major.minor')") from None
    if major > FORMAT_VERSION[0]:
        raise FormatError(
            f"{path} has format version {major}.{minor}, newer than this sg-lava reads "
            f"({FORMAT_VERSION[0]}.x); upgrade sg-lava"
        )


def _read_neuron(g: h5py.Group, where: str, channels: int) -> GammaParams:
    """The layer's :class:`GammaParams`, each field from where its metadata puts it; every
    array's declared shape is checked against K and the layer's channels before reading."""
    if "neuron" not in g:
        raise FormatError(f"{where}: missing 'neuron' group")
    n, nwhere = g["neuron"], f"{where}/neuron"
    ntype = _read_type(n) if "type" in n else None
    if ntype != NEURON_TYPE:
        raise FormatError(f"{nwhere}: type must be {NEURON_TYPE!r}")
    K = _int(n, "K", nwhere)
    if not 1 <= K <= MAX_K:
        raise FormatError(f"{nwhere}: K must lie in [1, {MAX_K}], is {K}")
    sizes = {"K": (K,), "KC": (K, channels), "C": (channels,)}
    values: dict[str, Any] = {}
    for name, info in param_infos():
        group, gwhere = (g, where) if info.location == "layer" else (n, nwhere)
        if info.optional and name not in group:
            values[name] = None
        elif info.shape:
            values[name] = _ints(group, name, gwhere, len(info.shape), sizes[info.shape])
        else:
            values[name] = (
                bool(_int(group, name, gwhere)) if info.flag else _int(group, name, gwhere)
            )
    params = GammaParams(**values)
    for key, expect in derived(params).items():
        if _int(n, key, nwhere) != expect:
            raise FormatError(f"{nwhere}: '{key}' is {_int(n, key, nwhere)}, expected {expect}")
    return params


def _weight_shape(g: h5py.Group, where: str, kind: str, in_shape, shape, K: int, per_syn: bool):
    """The stored weight's shape that the layer's sizes allow, redundant fields checked."""
    C = shape[0]
    if kind == "dense":
        n_in = int(np.prod(in_shape))
        if len(shape) != 1:
            raise FormatError(f"{where}: dense shape must be (N,), got {shape}")
        for key, expect in (("inFeatures", n_in), ("outFeatures", C)):
            if _int(g, key, where) != expect:
                raise FormatError(f"{where}: '{key}' is {_int(g, key, where)}, expected {expect}")
        rest: tuple[int, ...] = (n_in,)
    else:
        if len(shape) != 3 or len(in_shape) != 3:
            raise FormatError(f"{where}: conv needs (C, H, W) shapes, got {in_shape} -> {shape}")
        for key, expect in (("inChannels", in_shape[0]), ("outChannels", C)):
            if _int(g, key, where) != expect:
                raise FormatError(f"{where}: '{key}' is {_int(g, key, where)}, expected {expect}")
        kernel = _dims(g, "kernelSize", where, MAX_WEIGHTS)
        if len(kernel) != 2:
            raise FormatError(f"{where}: 'kernelSize' must be 2 sizes")
        rest = (in_shape[0], *kernel)
    expect = ((K * C) if per_syn else C, *rest)
    if int(np.prod(expect)) > MAX_WEIGHTS:
        raise FormatError(f"{where}: {int(np.prod(expect))} weights exceed the limit {MAX_WEIGHTS}")
    return expect


def _read_layer(g: h5py.Group, where: str, in_shape: tuple[int, ...], flatten_from) -> QuantLayer:
    kind = _read_type(g)
    if kind not in ("dense", "conv"):
        raise FormatError(f"{where}: unknown layer type")
    shape = _dims(g, "shape", where)
    params = _read_neuron(g, where, shape[0])
    expect = _weight_shape(g, where, kind, in_shape, shape, params.K, params.per_synapse)
    weight = _ints(g, "weight", where, shape=expect)
    if params.per_synapse:
        if weight.shape[0] % params.K:
            raise FormatError(
                f"{where}: per-synapse weight rows {weight.shape[0]} not a multiple of K={params.K}"
            )
        weight = weight.reshape(params.K, weight.shape[0] // params.K, *weight.shape[1:])
    geo: dict[str, Any] = {}
    if kind == "conv":
        for key in ("stride", "padding", "dilation"):
            geo[key] = tuple(int(v) for v in _ints(g, key, where, 1))
        if _int(g, "groups", where) != 1:
            raise FormatError(f"{where}: only groups = 1 is supported")
    return QuantLayer(kind, in_shape, shape, weight, params, flatten_from=flatten_from, **geo)


def read(path: str | Path) -> QuantizedNetwork:
    """Read and validate a network file; any problem raises :class:`FormatError`.

    The file is opened by :func:`sg_lava.h5files.open_confined`: nothing outside it is
    read, and no dataset larger than a layer's weights may exist in it.
    """
    path = Path(path)
    with open_confined(
        path, _accept, what="network file", max_entries=MAX_WEIGHTS, error=FormatError
    ) as h:
        qnet = _read(h, path)
    problems = validate_network(qnet)
    if problems:
        raise FormatError(f"{path}: {problems[0]}")
    return qnet


def _read(h: h5py.File, path: Path) -> QuantizedNetwork:
    _check_version(h, path)
    timing = h.attrs.get("timing", "")
    timing = timing.decode() if isinstance(timing, bytes) else str(timing)
    if timing not in TIMINGS:
        raise FormatError(f"{path}: timing must be one of {TIMINGS}")
    if "fixed_point" not in h:
        raise FormatError(f"{path}: missing 'fixed_point' group")
    fields = FixedPointSpec.__dataclass_fields__
    spec = FixedPointSpec(**{k: _int(h["fixed_point"], k, "fixed_point") for k in fields})
    if spec.problems():
        raise FormatError(f"{path}: {spec.problems()[0]}")
    if "layer" not in h:
        raise FormatError(f"{path}: missing 'layer' group")
    groups = h["layer"]
    keys = sorted(groups.keys(), key=lambda k: int(k) if k.isdigit() else -1)
    if keys != [str(i) for i in range(len(keys))] or not keys:
        raise FormatError(f"{path}: layers must be named 0..n-1")
    if len(keys) > 2 * MAX_LAYERS:
        raise FormatError(f"{path}: more than {MAX_LAYERS} layers")
    first = groups["0"]
    if _read_type(first) != "input":
        raise FormatError(f"{path}: layer/0 must be the input layer")
    shape = _dims(first, "shape", "layer/0")
    input_shape = shape
    layers: list[QuantLayer] = []
    flatten_from = None
    for key in keys[1:]:
        g, where = groups[key], f"layer/{key}"
        kind = _read_type(g)
        if kind == "flatten":
            flatten_from, shape = shape, (int(np.prod(shape)),)
            continue
        layer = _read_layer(g, where, shape, flatten_from)
        layers.append(layer)
        shape, flatten_from = layer.shape, None
    meta = {
        k: (v.decode() if isinstance(v, bytes) else str(v))
        for k, v in h.attrs.items()
        if k not in ("format", "format_version", "timing", "readout")
    }
    encoding, theta, mf = _read_input_code(h, path)
    return QuantizedNetwork(
        input_shape, layers, spec, timing, meta, _read_readout(h, path), encoding, theta, mf
    )


def _read_input_code(h: h5py.File, path: Path) -> tuple[str, int, int]:
    """The input encoder (group ``input_code``; without it: ``direct``)."""
    if "input_code" not in h:
        return "direct", 0, 0
    code = h["input_code"]
    encoding = code.attrs.get("encoding", "")
    encoding = encoding.decode() if isinstance(encoding, bytes) else str(encoding)
    return encoding, _int(code, "theta", "input_code"), _int(code, "mf", "input_code")


def _read_readout(h: h5py.File, path: Path) -> str | float | None:
    """The ``readout`` attribute (optional: files before 0.2 have none)."""
    if "readout" not in h.attrs:
        return None
    value = h.attrs["readout"]
    value = value.decode() if isinstance(value, bytes) else str(value)
    try:
        number = float(value)
    except ValueError:
        number = None
    try:
        return check_readout(value if number is None else number)
    except ValueError as err:
        raise FormatError(f"{path}: {err}") from None


def validate_network(qnet: QuantizedNetwork) -> list[str]:
    """Every problem with a network's values and shapes (empty when valid)."""
    if not qnet.layers:
        return ["the network has no layers"]
    out: list[str] = []
    if qnet.timing not in TIMINGS:
        out.append(f"timing must be one of {TIMINGS}")
    if qnet.readout is not None:
        try:
            check_readout(qnet.readout)
        except ValueError as err:
            out.append(str(err))
    try:
        check_encoding(qnet.input_encoding, qnet.input_theta)
    except ValueError as err:
        out.append(str(err))
    for name in ("input_theta", "input_mf"):
        if not 0 <= getattr(qnet, name) <= MAX_MESSAGE:
            out.append(f"{name} must lie in [0, {MAX_MESSAGE}]")
    out += qnet.spec.problems()
    shape = tuple(qnet.input_shape)
    for i, layer in enumerate(qnet.layers):
        where = f"layer {i} ({layer.kind})"
        nxt = qnet.layers[i + 1] if i + 1 < len(qnet.layers) else None
        out += [f"{where}: {p}" for p in _synapse_problems(layer, shape, qnet.spec)]
        out += [f"{where}: {p}" for p in _neuron_problems(layer, nxt, qnet.spec)]
        shape = tuple(layer.shape)
    return out


def _synapse_problems(L: QuantLayer, in_shape: tuple[int, ...], spec: FixedPointSpec) -> list[str]:
    """Geometry and weights of one layer's synapse, given what it receives."""
    out = []
    w = np.asarray(L.weight)
    C = L.shape[0]
    if L.kind == "dense":
        if len(L.shape) != 1:
            out.append(f"dense shape must be (N,), got {L.shape}")
        expect = (C, int(np.prod(in_shape)))
    elif L.kind == "conv":
        if len(L.shape) != 3 or len(in_shape) != 3:
            return [f"conv needs (C, H, W) shapes, got {in_shape} -> {L.shape}"]
        expect = (C, in_shape[0], *w.shape[-2:])
        hw = conv_output_hw(in_shape[1:], w.shape[-2:], L.stride, L.padding, L.dilation)
        if hw != tuple(L.shape[1:]):
            out.append(f"geometry gives {hw}, shape says {L.shape[1:]}")
    else:
        return ["unknown layer type"]
    if L.per_synapse:
        expect = (L.K, *expect)
    wmax = (1 << spec.weight_bits) - 2  # stored doubled, symmetric: [-(2^W - 2), 2^W - 2]
    if w.shape != expect:
        out.append(f"weight shape {w.shape}, expected {expect}")
    if w.size and (w.min() < -wmax or w.max() > wmax or np.any(w % 2)):
        out.append(f"weights must be even integers in [{-wmax}, {wmax}]")
    follows = (int(np.prod(in_shape)),) if L.kind == "dense" else in_shape
    if tuple(L.in_shape) != follows:
        out.append(f"input shape {L.in_shape} does not follow the previous layer {in_shape}")
    return out


def _neuron_problems(L: QuantLayer, nxt: QuantLayer | None, spec: FixedPointSpec) -> list[str]:
    """One layer's neuron parameters, alone and against their neighbours."""
    p = L.neuron
    if p.K < 1:
        return ["decay must have K >= 1 entries"]
    out = p.problems(spec)
    if p.channels != L.shape[0]:
        out.append(f"bias must have {L.shape[0]} entries")
    if (p.bucket_weight is None) != p.per_synapse:
        out.append("bucket_weight must be present exactly when per_synapse = 0")
    if p.copy_exp is not None and not p.per_synapse:
        out.append("copy_exp is for per-synapse layers only")
    elif not out and np.abs(p.drive_shifts()).max() > 62:
        out.append("drive_exp - copy_exp must lie in [-62, 62]")
    if p.is_output != (nxt is None):
        out.append("only the last layer is the output layer")
    expected_out = 0 if nxt is None else int(np.asarray(nxt.neuron.decay)[0])
    if p.decay_out != expected_out:
        out.append(f"decay_out {p.decay_out} must be the next layer's first decay {expected_out}")
    return out
