"""sg-lava evaluate: the exported file's integer accuracy on a whole test set, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sg_lava.deploy.pipeline import Pipeline
from sg_lava.export import hdf5
from sg_lava.model.modelfile import save_model
from sg_lava.model.timing import pad_steps, predict, shift_mask
from sg_lava.training.experiment import train_task
from tests.helpers import dense_net

BIN = Path(sys.executable).parent


def cli(*args):
    return subprocess.run([str(BIN / "sg-lava"), *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    res = train_task("delay", out=d / "model.pt", epochs=1, n_train=128, n_test=30, progress=False)
    Pipeline(res.path).export(d / "net.h5", allow_saturation=True)
    return res, d / "model.pt", d / "net.h5"


@pytest.mark.slow
def test_train_evaluate_and_verify_agree_on_the_fixed_point_accuracy(trained, tmp_path):
    res, model, net = trained
    out = cli("evaluate", str(model), str(net), "--task", "delay", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["samples"] == 30
    # sg-lava train's figure
    assert report["fixed_accuracy"] == pytest.approx(Pipeline(model).fixed_accuracy(res.test))
    assert report["float_accuracy"] == pytest.approx(res.float_accuracy)
    assert report["file_differs"] == []
    assert 0.0 <= report["agreement"] <= 1.0
    spikes, ops = report["spikes_per_neuron_step"], report["synops_per_inference"]
    assert len(spikes["layers"]) == 1 and spikes["total"] == spikes["layers"][0] > 0
    assert len(ops["layers"]) == 2 and ops["total"] == pytest.approx(sum(ops["layers"]))
    # verify: Lava from net.h5 on the whole test split, spike for spike, same predictions
    pipe, qfile = Pipeline(model), hdf5.read(net)
    x = pad_steps(res.test.x, qfile.latency)
    ver = pipe.verify(qfile, x)
    assert ver.ok
    lava = predict(torch.as_tensor(ver.lava[-1]).double(), shift_mask(res.test.mask, 2))
    assert float((lava == res.test.y).double().mean()) == pytest.approx(report["fixed_accuracy"])
    # the same samples as a user's folder give the same figures
    np.savez(tmp_path / "test.npz", x=res.test.x.numpy(), y=res.test.y.numpy())
    out = cli("evaluate", str(model), str(net), "--data", str(tmp_path), "--json")
    assert out.returncode == 1 and "its task's own window" in out.stderr  # no mask given
    arrays = {"x": res.test.x.numpy(), "y": res.test.y.numpy(), "mask": res.test.mask.numpy()}
    np.savez(tmp_path / "test.npz", **arrays)
    out = cli("evaluate", str(model), str(net), "--data", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    same = json.loads(out.stdout)
    assert same["samples"] == 30 and same["fixed_accuracy"] == report["fixed_accuracy"]


def test_evaluate_text_report_names_every_figure(trained):
    _, model, net = trained
    out = cli("evaluate", str(model), str(net), "--task", "delay", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    for needle in ("float accuracy:", "fixed-point accuracy (net.h5):", "agreement", "saturated"):
        assert needle in out.stdout


def one_line_error(out, needle: str) -> None:
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1 and needle in lines[0], out.stderr


def test_bad_input_gets_one_clear_line(trained, tmp_path):
    _, model, net = trained
    one_line_error(
        cli("evaluate", str(model), str(net), "--task", "coincidence"), "trained on delay"
    )
    one_line_error(
        cli("evaluate", str(model), str(net), "--data", str(tmp_path / "none")), "not found"
    )
    other = tmp_path / "other.pt"
    save_model(dense_net([2, 16, 3]), other)
    Pipeline(other).export(tmp_path / "other.h5")
    one_line_error(
        cli("evaluate", str(model), str(tmp_path / "other.h5"), "--task", "delay"),
        "does not match the model",
    )
    np.savez(tmp_path / "test.npz", x=np.zeros((3, 10, 5)), y=np.zeros(3, dtype=int))
    one_line_error(
        cli("evaluate", str(model), str(net), "--data", str(tmp_path)),
        "the network expects (n, T, 2)",
    )
