"""``sg-export``: quantise a trained model, report what quantisation did, write ``net.h5``.

The quantiser is :func:`sg_lava.quantize.quantize_network` (the one the fixed-point
reference uses). When the model file names the task it was trained on, a batch of that
task's inputs calibrates each layer's scale and measures saturation before anything is
written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from sg_lava import __version__
from sg_lava.errors import UserError
from sg_lava.export import hdf5
from sg_lava.export.plan import core_summary
from sg_lava.export.qnet import QuantizedNetwork
from sg_lava.files import file_sha256
from sg_lava.fixed import FixedNetwork, Saturation
from sg_lava.model_io import load_model
from sg_lava.network import GammaNetwork
from sg_lava.quantize import LayerReport, quantize_network
from sg_lava.tasks import make_task
from sg_lava.training import pad_steps

MAX_SHARE = 0.001  # refuse above 0.1 % of weights clipped or of state values saturated
CALIBRATION_SAMPLES = 64


@dataclass
class ExportResult:
    qnet: QuantizedNetwork
    reports: list[LayerReport]
    saturation: Saturation | None
    sat_share: list[float]


def calibration_inputs(
    payload: dict, net: GammaNetwork, n: int = CALIBRATION_SAMPLES
) -> torch.Tensor | None:
    """Calibration inputs: those stored in the model, else its task's, else None."""
    stored = (payload.get("samples") or {}).get("calibration")
    if isinstance(stored, torch.Tensor):
        return pad_steps(stored[:n], net.latency)
    task = payload.get("task") or {}
    if not task.get("name"):
        return None
    try:
        data = make_task(
            task["name"], n, seed=int(task.get("seed", 0)) * 2 + 1, **task.get("params", {})
        )
    except (KeyError, TypeError):
        return None
    return pad_steps(data.x, net.latency)


def quantize_for_export(net: GammaNetwork, payload: dict) -> ExportResult:
    """Quantise ``net`` (calibrated when possible) and measure saturation."""
    calib = calibration_inputs(payload, net)
    qnet, reports = quantize_network(net, calibration=calib)
    sat, shares = None, [0.0] * len(qnet.layers)
    if calib is not None:
        _, _, sat = FixedNetwork(qnet).run(qnet.quantize_input(calib.numpy()))
        steps = calib.shape[0] * calib.shape[1]
        for (layer, _what), count in sat.counts.items():
            shares[layer] += count / (steps * qnet.layers[layer].n_neurons)
    return ExportResult(qnet, reports, sat, shares)


def format_report(res: ExportResult) -> str:
    """The quantisation report as a table."""
    lines = [
        "layer  type   weight bits  exp  clipped  zeroed  bucket-w exp  saturated",
    ]
    for r, share in zip(res.reports, res.sat_share):
        sat = f"{100 * share:8.3f}%" if res.saturation is not None else "   (n/a)"
        lines.append(
            f"{r.index:>5}  {r.kind:<5}  {r.weight_bits:>11}  {r.weight_exp:>3}  "
            f"{100 * r.clipped:6.2f}%  {100 * r.weight_zeroed:5.1f}%  "
            f"{r.bucket_weight_exp:>12}  {sat}"
        )
    if res.saturation is None:
        lines.append("(no task recorded in the model: saturation not measured)")
    return "\n".join(lines)


def export_model(
    model_path: str | Path, out_path: str | Path, allow_saturation: bool = False
) -> ExportResult:
    """Quantise ``model_path`` and write ``out_path``; refuses heavy clipping unless allowed."""
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise UserError(f"destination folder does not exist: {out_path.parent}")
    net, payload = load_model(model_path)
    res = quantize_for_export(net, payload)
    worst = max([r.clipped for r in res.reports] + res.sat_share)
    if worst > MAX_SHARE and not allow_saturation:
        raise UserError(
            f"quantisation would clip or saturate {100 * worst:.2f}% of values in some layer "
            f"(limit {100 * MAX_SHARE:.1f}%); retrain, or pass --allow-saturation"
        )
    meta = {
        "sg_lava_version": __version__,
        "source": Path(model_path).name,
        "source_sha256": file_sha256(model_path),
        "task": (payload.get("task") or {}).get("name", ""),
    }
    hdf5.write(res.qnet, out_path, meta)
    return res


def describe(qnet: QuantizedNetwork) -> str:
    """A readable summary of a network file (``sg-lava inspect``)."""
    spec = qnet.spec
    lines = [
        f"input shape {tuple(qnet.input_shape)}, timing {qnet.timing!r} "
        f"(output lags {qnet.latency} steps on Lava)",
        f"fixed point: {spec.state_bits}-bit states, {spec.weight_bits}-bit weights, "
        f"{spec.decay_bits}-bit decays, {spec.bucket_weight_bits}-bit bucket weights",
        "",
        "layer  type   shape         K  bucket-w      neurons  synapses  frac  weight-exp  drive-exp",
    ]
    for i, L in enumerate(qnet.layers):
        role = "output" if L.is_output else "hidden"
        variant = "per-synapse" if L.per_synapse else "per-neuron"
        lines.append(
            f"{i:>5}  {L.kind:<5}  {str(tuple(L.shape)):<12} {L.K:>2}  {variant:<12} "
            f"{L.n_neurons:>8}  {L.n_synapses:>8}  {L.frac_bits:>4}  {L.weight_exp:>10}  "
            f"{L.drive_exp:>9}   {role}"
        )
    total_n = sum(L.n_neurons for L in qnet.layers)
    total_s = sum(L.n_synapses for L in qnet.layers)
    lines.append(f"total: {len(qnet.layers)} layers, {total_n} neurons, {total_s} synaptic weights")
    lines.append(core_summary(qnet))
    for key in ("source", "source_sha256", "sg_lava_version", "task"):
        if qnet.meta.get(key):
            lines.append(f"{key}: {qnet.meta[key]}")
    return "\n".join(lines)
