"""One model file on its way to a verified deployment: the one path from model to result.

A :class:`Pipeline` loads a model file once, quantises it once (calibrated on the model's
own data, exactly as ``sg-export`` writes it), runs the integer reference once per input
set and builds a Lava network once per file and input set. ``sg-export``, ``sg-lava
verify``, the demo and the deploy examples all go through it, so what is exported, what
is verified and what is reported are the same network.

Flow (``docs/architecture.md``): model.pt -> :attr:`Pipeline.quantized` -> :meth:`export`
(net.h5) -> :meth:`evaluate` (the whole test set through the float model and the file's
integers) -> :meth:`verify` (Lava from the file vs the reference from the model, reusing
the test set's reference run where it is the same network).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sg_lava import __version__
from sg_lava.data.streaming import StreamData
from sg_lava.data.tasks import TaskData, task_split
from sg_lava.deploy.heldout import held_out
from sg_lava.deploy.verify import (
    FLOAT_TOLERANCE,
    VerifyResult,
    compare,
    parameter_mismatches,
)
from sg_lava.devices import resolve_device
from sg_lava.errors import UserError
from sg_lava.export import hdf5
from sg_lava.export.plan import fanout_map
from sg_lava.export.qnet import QuantizedNetwork
from sg_lava.files import file_sha256
from sg_lava.model.activity import Activity, combine, measure
from sg_lava.model.modelfile import CALIBRATION_SAMPLES, KEPT, load_model, stored_samples
from sg_lava.model.network import GammaNetwork
from sg_lava.model.readout import readout_mask
from sg_lava.model.timing import fit_steps, pad_steps, predict, shift_mask
from sg_lava.reference.fixed import FixedNetwork, Saturation
from sg_lava.reference.quantize import LayerReport, quantize_network

MAX_SHARE = 0.001  # refuse above 0.1 % of weights clipped or of state values saturated
STREAM_BATCH = 64  # samples of streamed data in memory at once
EVALUATE_BYTES = 256 << 20  # integer outputs of one evaluation batch, all layers


@dataclass
class Reference:
    """One run of the integer reference: output readout, hidden spikes, saturation."""

    output: Tensor  # (B, T, *out_shape)
    spikes: list[Tensor]  # per hidden layer (B, T, *shape)
    saturation: Saturation

    def layers(self, n: int | None = None) -> list[np.ndarray]:
        """Every layer's output as numpy arrays (hidden spikes, then the readout)."""
        return [t[:n].numpy() for t in (*self.spikes, self.output)]


ZEROED_WARNING = 0.5  # share of a layer's non-zero weights rounded to 0 that the report flags


@dataclass
class ExportResult:
    """What ``sg-export`` wrote and what quantisation did."""

    qnet: QuantizedNetwork
    reports: list[LayerReport]
    saturation: Saturation | None
    sat_share: list[float]

    def table(self) -> str:
        """The quantisation report as a table."""
        lines = ["layer  type   weight bits  exp  clipped  zeroed  bucket-w exp  saturated"]
        for r, share in zip(self.reports, self.sat_share):
            sat = f"{100 * share:8.3f}%" if self.saturation is not None else "   (n/a)"
            lines.append(
                f"{r.index:>5}  {r.kind:<5}  {r.weight_bits:>11}  {r.weight_exp:>3}  "
                f"{100 * r.clipped:6.2f}%  {100 * r.weight_zeroed:5.1f}%  "
                f"{r.bucket_weight_exp:>12}  {sat}"
            )
        if self.saturation is None:
            lines.append("(no task recorded in the model: saturation not measured)")
        for r in self.reports:
            if r.weight_zeroed >= ZEROED_WARNING:
                lines.append(
                    f"warning: layer {r.index}: {100 * r.weight_zeroed:.0f}% of its non-zero "
                    f"weights round to 0 on the {r.weight_bits}-bit grid (more weight_bits?)"
                )
        return "\n".join(lines)


@dataclass
class Evaluation:
    """A whole test set through the float model and the exported file's integer network."""

    samples: int
    float_accuracy: float
    fixed_accuracy: float  # the file's integers (hdf5.read(net.h5)), not a re-quantisation
    agreement: float  # share of samples whose float and file predictions are the same
    saturation: dict[str, int]  # "layer i quantity" -> values saturated or wrapped
    # the file's integers on the whole set: hidden spikes per neuron per step and synaptic
    # operations per inference ({"layers": [...], "total": ...}; model/activity.py)
    spikes_per_neuron_step: dict[str, Any]
    synops_per_inference: dict[str, Any]
    file_differs: list[str]  # parameters where the file differs from the model's quantisation
    # every layer of the first samples' integer run, when asked for (Pipeline.evaluate keep)
    reference: list[np.ndarray] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "reference"}

    def text(self) -> str:
        layers = self.spikes_per_neuron_step["layers"]
        rates = ", ".join(f"layer {i}: {r:.4f}" for i, r in enumerate(layers))
        if len(layers) > 1:
            rates += f"; all: {self.spikes_per_neuron_step['total']:.4f}"
        ops = self.synops_per_inference
        sat = ", ".join(f"{k}: {v}" for k, v in self.saturation.items()) or "none"
        lines = [
            f"samples: {self.samples}",
            f"float accuracy: {self.float_accuracy:.4f}",
            f"fixed-point accuracy (net.h5): {self.fixed_accuracy:.4f}",
            f"agreement (same prediction, float vs net.h5): {self.agreement:.4f}",
            f"saturated values: {sat}",
            f"hidden spikes per neuron per step: {rates or 'no hidden layer'}",
            f"synaptic operations per inference: {ops['total']:.0f} "
            f"({', '.join(f'{v:.0f}' for v in ops['layers'])} by layer)",
        ]
        if self.file_differs:
            lines.append(
                "net.h5 differs from the model's own quantisation in: "
                + ", ".join(self.file_differs)
            )
        return "\n".join(lines)


class Pipeline:
    """A trained model and everything derived from it, each computed once."""

    def __init__(self, model: str | Path | GammaNetwork, device: str | None = None) -> None:
        """``model``: a model file, or a network in memory (a copy is used: no task, no
        kept samples, so inputs must be given, and nothing is exported from it)."""
        if isinstance(model, GammaNetwork):
            self.model_path: Path | None = None
            self.name = "the network"
            self.net, self.payload = copy.deepcopy(model).cpu().eval(), {}
        else:
            self.model_path = Path(model)
            self.name = str(self.model_path)
            self.net, self.payload = load_model(self.model_path)
        self.device = resolve_device(device)  # where the integer reference runs
        self._references: dict[tuple, Reference] = {}

    @property
    def latency(self) -> int:
        return self.net.latency

    def inputs(self, split: str, n: int) -> Tensor | None:
        """Up to ``n`` inputs of the model's own data, padded for its latency: the samples
        kept in the file, else the recorded task's split; None if the model has neither."""
        stored = stored_samples(self.payload, split)
        shape = tuple(self.net.input_shape)
        if stored is not None and (
            stored.ndim != len(shape) + 2 or tuple(stored.shape[2:]) != shape
        ):
            raise UserError(
                f"{self.name}: its {KEPT[split][0]} samples have shape "
                f"{tuple(stored.shape)}, not (n, T, {', '.join(map(str, shape))})"
            )
        task = self.payload.get("task")
        return held_out(task, stored, split, n, self.latency, self.name)

    @cached_property
    def calibration(self) -> Tensor | None:
        """Calibration inputs: the first samples of the training split."""
        return self.inputs("train", CALIBRATION_SAMPLES)

    @cached_property
    def quantized(self) -> tuple[QuantizedNetwork, list[LayerReport]]:
        """The integer network (calibrated when the model has data) and its layer reports."""
        qnet, reports = quantize_network(self.net, calibration=self.calibration)
        qnet.readout = self.readout
        return qnet, reports

    @property
    def readout(self) -> str | float:
        """The model's readout window (:mod:`sg_lava.export.readout`): a built-in task's
        own window for a model of one (also in files written before the setting existed)."""
        task = self.payload.get("task") or {}
        return "task" if isinstance(task, dict) and "params" in task else self.net.config["readout"]

    @property
    def qnet(self) -> QuantizedNetwork:
        return self.quantized[0]

    def assume_quantized(self, qnet: QuantizedNetwork) -> None:
        """Take ``qnet`` as the model's integer network. For a network in memory, which
        records no calibration inputs to quantise it again as its export was: the reference
        is then ``qnet``'s, and no parameter of it can differ from the model's."""
        self.check_file(qnet, "the integer network")
        self.__dict__["quantized"] = (qnet, [])

    def reference(self, name: str, x: Tensor, timing: str | None = None) -> Reference:
        """The integer reference on inputs ``x``, run once per ``name`` and timing."""
        timing = timing or self.qnet.timing
        key = (name, timing, tuple(x.shape))
        if key not in self._references:
            out, spikes, sat = FixedNetwork(self.qnet, self.device).run(
                self.qnet.quantize_input(x.numpy()), timing
            )
            self._references[key] = Reference(out, spikes, sat)
        return self._references[key]

    def saturation_shares(self) -> tuple[Saturation | None, list[float]]:
        """Saturation on the calibration inputs, as a share of each layer's state values."""
        shares = [0.0] * len(self.qnet.layers)
        if self.calibration is None:
            return None, shares
        sat = self.reference("calibration", self.calibration).saturation
        steps = self.calibration.shape[0] * self.calibration.shape[1]
        for (layer, _what), count in sat.counts.items():
            shares[layer] += count / (steps * self.qnet.layers[layer].n_neurons)
        return sat, shares

    def export(self, out_path: str | Path, allow_saturation: bool = False) -> ExportResult:
        """Write ``net.h5``; refuses heavy clipping or saturation unless allowed."""
        qnet, reports = self.quantized
        sat, shares = self.saturation_shares()
        res = ExportResult(qnet, reports, sat, shares)
        if self.model_path is None:
            raise UserError("export writes a model file's network: save_model it first")
        worst = max([r.clipped for r in reports] + shares)
        if worst > MAX_SHARE and not allow_saturation:
            raise UserError(
                f"quantisation would clip or saturate {100 * worst:.2f}% of values in some "
                f"layer (limit {100 * MAX_SHARE:.1f}%); retrain, or pass --allow-saturation"
            )
        hdf5.write(qnet, out_path, self.provenance(), inputs=[self.model_path])
        return res

    def provenance(self) -> dict[str, Any]:
        """What ``net.h5`` records about where it came from."""
        task = self.payload.get("task") or {}
        meta = {
            "sg_lava_version": __version__,
            "source": self.model_path.name,
            "source_sha256": file_sha256(self.model_path),
            "task": task.get("name", ""),
        }
        if "params" in task:  # a built-in task: how to regenerate its inputs (plan, verify)
            keys = ("name", "seed", "params", "n_test")
            meta["task_info"] = json.dumps({k: task[k] for k in keys if k in task})
        elif "bins" in task:  # events: how they were binned (plan --data)
            meta["task_info"] = json.dumps({"name": task.get("name", ""), "bins": task["bins"]})
        return meta

    def fixed_accuracy(self, data: TaskData | StreamData, name: str = "test") -> float:
        """Held-out accuracy of the exported integer network, in its own timing.

        Streamed data is run batch by batch and not kept.
        """
        lag = self.latency
        if isinstance(data, StreamData):
            fixed, correct = FixedNetwork(self.qnet, self.device), 0
            for x, y, mask in data.batches(STREAM_BATCH):
                out, _, _ = fixed.run(self.qnet.quantize_input(pad_steps(x, lag).numpy()))
                correct += int((predict(out.double(), shift_mask(mask, lag)) == y).sum())
            return correct / len(data)
        return float((self.fixed_predictions(data, name) == data.y).double().mean())

    def fixed_predictions(self, data: TaskData, name: str = "test") -> Tensor:
        """The exported integer network's class per sample of ``data``, in its own timing."""
        lag = self.latency
        ref = self.reference(name, pad_steps(data.x, lag))
        return predict(ref.output.double(), shift_mask(data.mask, lag))

    def check_file(self, qfile: QuantizedNetwork, what: str = "net.h5") -> None:
        """A file whose shapes are not the model's is refused in one line."""
        layers = [tuple(L.shape) for L in self.qnet.layers]
        theirs = [tuple(L.shape) for L in qfile.layers]
        if tuple(self.net.input_shape) != tuple(qfile.input_shape) or layers != theirs:
            raise UserError(
                f"{what} does not match the model: input {tuple(qfile.input_shape)} and layers "
                f"{theirs}, the model has input {tuple(self.net.input_shape)} and layers {layers}"
            )

    def task_data(
        self, task: str | None = None, data: str | None = None, bins: int | None = None
    ) -> TaskData | StreamData:
        """A test split: the recorded task's (``task`` must be it) or a data folder's:
        ``DIR/test.npz``, or ``DIR/test.h5`` binned into ``bins`` steps (default: the bins
        the model was trained with, when it records them)."""
        if data is not None:
            from sg_lava.data.userdata import open_split
            from sg_lava.model.netfile import output_classes

            recorded = (self.payload.get("task") or {}).get("bins")
            classes = output_classes(self.net, str(self.model_path))  # labels name an output
            shape = tuple(self.net.input_shape)
            return open_split(
                data, "test", classes, shape, bins, default_bins=recorded, readout=self.readout
            )
        recorded = self.payload.get("task") or {}
        if recorded.get("name") == "data":
            raise UserError(
                f"{self.model_path} was trained on a data folder, not a built-in task: "
                "evaluate it with --data DIR (its test.npz)"
            )
        if recorded.get("name") != task:
            trained = recorded.get("name") or "no recorded task"
            raise UserError(f"the model was trained on {trained}, not on task {task!r}")
        n = int(recorded.get("n_test") or 0)
        if n < 1:
            raise UserError(f"{self.name}: records no test split size for {task}")
        try:
            return task_split(recorded, "test", n)
        except (KeyError, TypeError) as err:
            raise UserError(f"{self.name}: cannot regenerate its task ({err})") from None

    def evaluate(
        self,
        qfile: QuantizedNetwork,
        data: TaskData | StreamData,
        *,
        progress: bool = False,
        device: str | None = None,
        keep: int = 0,
    ) -> Evaluation:
        """Float model and the file's integers on every sample of ``data``, in batches as
        large as :data:`EVALUATE_BYTES` of integer outputs allow (one for small sets;
        streamed data: :data:`STREAM_BATCH` samples, read as they are run).

        ``keep``: the integer run's every layer of the first ``keep`` samples is kept
        (``Evaluation.reference``), so that a verification on them need not run it again.
        """
        from tqdm import tqdm

        self.check_file(qfile)
        fixed = FixedNetwork(qfile, device or self.device)
        lag, flag = self.latency, qfile.latency
        if isinstance(data, StreamData):
            batch = STREAM_BATCH
        else:
            per_sample = (data.x.shape[1] + flag) * sum(L.n_neurons for L in qfile.layers) * 8
            batch = max(64, EVALUATE_BYTES // max(per_sample, 1))
        self.net.eval()
        agree = right_float = right_fixed = 0
        fans = [torch.from_numpy(fanout_map(L)) for L in qfile.layers]
        events: list[Activity] = []
        sat = Saturation()
        kept: list[list[Tensor]] = []
        with (
            tqdm(total=len(data), desc="evaluate", unit="sample", disable=not progress) as bar,
            torch.no_grad(),
        ):
            for x, y, mask in data.batches(batch):
                pf = predict(self.net(pad_steps(x, lag)), shift_mask(mask, lag))
                q = qfile.quantize_input(pad_steps(x, flag).numpy())
                out, hidden, s = fixed.run(q)
                pq = predict(out.double(), shift_mask(mask, flag))
                right_float += int((pf == y).sum())
                right_fixed += int((pq == y).sum())
                agree += int((pf == pq).sum())
                sources = [torch.as_tensor(qfile.encode_input(q)), *hidden]
                events.append(
                    measure(sources, [f.view(src.shape[2:]) for f, src in zip(fans, sources)])
                )
                sat.merge(s)
                room = keep - sum(len(k[0]) for k in kept)
                if room > 0:
                    kept.append([t[:room] for t in (*hidden, out)])
                bar.update(len(y))
        n = len(data)
        reference = [torch.cat(parts).numpy() for parts in zip(*kept)] if kept else None
        act = combine(events)
        return Evaluation(
            n,
            right_float / n,
            right_fixed / n,
            agree / n,
            {f"layer {i} {what}": c for (i, what), c in sorted(sat.counts.items())},
            {"layers": act.spikes_per_neuron_step, "total": act.total_spikes_per_neuron_step},
            {"layers": act.synops_per_inference, "total": act.total_synops},
            parameter_mismatches(self.qnet, qfile),
            reference,
        )

    def verification_data(
        self, samples: int, steps: int | None, inputs=None
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """What ``verify`` runs: inputs, their readout window (in Lava timing) and labels.

        ``inputs`` (a ``.npy`` file, or an array or tensor of (batch, T, *input_shape)) come
        without window and labels (None: the network's default window). The model's
        held-out samples of a built-in task come with both; kept samples (user data) carry
        inputs only.
        """
        x = self._verification_inputs(samples, steps, inputs)
        task = self.payload.get("task")
        regenerable = isinstance(task, dict) and "params" in task
        if (
            inputs is not None
            or not regenerable
            or stored_samples(self.payload, "test") is not None
        ):
            return x, None, None
        data = task_split(task, "test", x.shape[0])
        return x, fit_steps(shift_mask(data.mask, self.latency), steps), data.y

    def _verification_inputs(self, samples: int, steps: int | None, inputs=None) -> Tensor:
        """Inputs for ``verify``: ``inputs`` (a ``.npy`` file, or an array or tensor of
        (batch, T, *input_shape)), else the model's held-out samples."""
        from sg_lava.export.inputs import check_input_array, check_run_size, load_input_array

        neurons = sum(L.n_neurons for L in self.qnet.layers)
        shape, limit = tuple(self.net.input_shape), self.qnet.input_limit()
        if isinstance(inputs, (str, Path)):
            x = torch.as_tensor(load_input_array(inputs, shape, limit, neurons))
        elif inputs is not None:
            x = torch.as_tensor(check_input_array(inputs, shape, limit, neurons))
        else:
            per_step = int(np.prod(self.net.input_shape)) + neurons
            check_run_size(samples, steps or 1, per_step, "verify")
            x = self.inputs("test", samples)
            if x is None:
                raise UserError(
                    f"{self.name} records no task: give inputs (--input x.npy, or inputs=)"
                )
        x = fit_steps(x, steps)
        check_run_size(x.shape[0], x.shape[1], int(np.prod(self.net.input_shape)) + neurons)
        return x

    def verify(
        self,
        qfile: QuantizedNetwork,
        x: Tensor,
        backend: str = "fixed",
        reference: list[np.ndarray] | None = None,
        progress: bool = False,
        workers: int = 1,
        window: Tensor | None = None,
        labels: Tensor | None = None,
    ) -> VerifyResult:
        """Lava (built from ``qfile``) against the reference (from the model) on ``x``.

        ``reference`` may pass the Lava-timed reference of ``x`` when the caller already has
        it (the deployment's test-set run); otherwise it is run here. ``workers``: Lava
        runtimes in separate processes, each on a shard of the samples. ``window`` (B, T) and
        ``labels`` (B,), when known, go into the result (the float backend's classes and the
        plots read the window; the network's default window otherwise).
        """
        from sg_lava.processes.runner import encode_inputs, run_samples

        if tuple(self.net.input_shape) != tuple(qfile.input_shape):
            raise UserError(
                f"model input {self.net.input_shape} and file input {qfile.input_shape} differ"
            )
        if window is None:
            # a task's model run on inputs without their window: every step
            rule = "all" if self.readout == "task" else self.readout
            window = readout_mask(self.net, x.shape[0], x.shape[1], rule=rule)
        xs = encode_inputs(qfile, x.numpy(), backend)
        lava = run_samples(qfile, xs, backend, progress, workers)
        extra = {
            "inputs": x.numpy(),
            "window": window.numpy(),
            "labels": None if labels is None else labels.numpy(),
        }
        if backend == "float":
            return self._verify_float(qfile, x, lava, extra)
        if reference is None:
            reference = self.reference("verify", x, timing="lava").layers()
        layers, first = compare(qfile, reference, lava)
        return VerifyResult(
            layers,
            first,
            reference,
            lava,
            backend,
            parameter_mismatches(self.qnet, qfile),
            output_scale=2.0 ** -qfile.layers[-1].frac_bits,
            **extra,
        )

    def _verify_float(
        self, qfile: QuantizedNetwork, x: Tensor, lava: list[np.ndarray], extra: dict
    ) -> VerifyResult:
        """Lava floating_pt (the file's parameters) against the float model with its weights
        on the file's weight grid, in real units: within :data:`FLOAT_TOLERANCE`, and the
        same class per sample (docs/model.md)."""
        net = copy.deepcopy(self.net).double()
        for layer in net.gamma_layers:
            layer.weight_bits = qfile.spec.weight_bits  # the rounding sg-export does
        with torch.no_grad():
            out, spikes = net(x.double(), timing="lava", return_spikes=True)
        reference = [s.numpy() for s in spikes] + [out.numpy()]
        lava = [a / 2.0**L.frac_bits for a, L in zip(lava, qfile.layers)]
        layers, first = compare(qfile, reference, lava, tolerance=FLOAT_TOLERANCE)
        window = torch.as_tensor(extra["window"])
        classes = [predict(torch.as_tensor(o), window) for o in (reference[-1], lava[-1])]
        agree = int((classes[0] == classes[1]).sum())
        return VerifyResult(layers, first, reference, lava, "float", classes_agree=agree, **extra)
