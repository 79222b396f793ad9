"""End to end: train -> sg-export -> sg-lava verify / run, and a corrupted file caught."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from sg_lava.training.experiment import train_task

BIN = Path(sys.executable).parent


def cli(*args):
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True)


@pytest.fixture(scope="module")
def delay_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("delay")
    model, net = d / "model.pt", d / "net.h5"
    train_task("delay", out=model, epochs=2, n_train=256, n_test=64, progress=False)
    res = cli("sg-export", str(model), str(net))
    assert res.returncode == 0, res.stderr
    return model, net


@pytest.mark.slow
def test_trained_delay_model_verifies_at_100_percent(delay_files, tmp_path):
    model, net = delay_files
    plot = tmp_path / "raster.png"
    res = cli("sg-lava", "verify", str(model), str(net), "--samples", "5", "--plot", str(plot))
    assert res.returncode == 0, res.stdout + res.stderr
    last = res.stdout.strip().splitlines()[-1]
    m = re.fullmatch(
        r"verify: (\d+)/(\d+) spike events identical \(100\.00%\); first divergence: none", last
    )
    assert m and m.group(1) == m.group(2) and int(m.group(2)) > 100, last
    assert plot.stat().st_size > 10_000


@pytest.mark.slow
def test_one_bit_change_in_a_weight_is_caught_with_its_layer(delay_files, tmp_path):
    model, net = delay_files
    bad = tmp_path / "bad.h5"
    bad.write_bytes(net.read_bytes())
    with h5py.File(bad, "r+") as h:
        w = h["layer/2/weight"][()]  # layer/0 is the input: this is gamma layer 1
        j, i = 0, int(np.argmax(np.abs(w).sum(0)))
        w[j, i] = float(int(w[j, i]) ^ 2)  # flip one bit of the stored (even) integer
        h["layer/2/weight"][...] = w
    res = cli("sg-lava", "verify", str(model), str(bad), "--samples", "3")
    assert res.returncode == 1
    last = res.stdout.strip().splitlines()[-1]
    assert "first divergence: layer 1, neuron (0,)" in last, last
    assert "parameter differs between model and file: layer 1: weight" in res.stdout


@pytest.mark.slow
def test_float_backend_prints_its_tolerance_and_passes_a_healthy_model(delay_files, tmp_path):
    model, net = delay_files
    res = cli("sg-lava", "verify", str(model), str(net), "--samples", "8", "--backend", "float")
    lines = res.stdout.strip().splitlines()
    assert lines[-2].startswith("tolerance (float): |Lava - float| <= 1% of each layer")
    m = re.fullmatch(
        r"verify: (\d+)/(\d+) outputs within tolerance of float \((\d+\.\d\d)%\), classes "
        r"agree on 8/8 samples; first departure: (none|layer \d, neuron .*, step \d+: "
        r"reference .*, Lava .* \(differ by .*, tolerance .*\))",
        lines[-1],
    )
    assert m and float(m.group(3)) >= 99.0 and res.returncode == 0, res.stdout + res.stderr
    bad = tmp_path / "negated.h5"  # the output layer's weights negated
    bad.write_bytes(net.read_bytes())
    with h5py.File(bad, "r+") as h:
        h["layer/2/weight"][...] = -h["layer/2/weight"][()]
    res = cli("sg-lava", "verify", str(model), str(bad), "--samples", "8", "--backend", "float")
    last = res.stdout.strip().splitlines()[-1]
    assert res.returncode == 1, last
    m = re.search(
        r"\((\d+\.\d\d)%\).*first departure: layer 1, neuron \(\d,\), sample 0, step", last
    )
    assert m and float(m.group(1)) < 99.0, last


@pytest.mark.slow
def test_run_writes_every_layer(delay_files, tmp_path):
    _, net = delay_files
    x = np.zeros((2, 40, 2))
    x[:, 5, 0] = x[:, 17, 1] = 1
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "spikes.npz"
    res = cli("sg-lava", "run", str(net), "--input", str(tmp_path / "x.npy"), "--out", str(out))
    assert res.returncode == 0, res.stderr
    z = np.load(out)
    # the input padded by the latency: 40 + 2 steps of output
    assert z["layer_0"].shape == (2, 42, 32) and z["output"].shape == (2, 42, 3)
    assert int(z["latency"]) == 2
    np.testing.assert_array_equal(z["layer_0"][0], z["layer_0"][1])  # same input, reset between
    res = cli("sg-lava", "run", str(net), "--input", str(tmp_path / "nope.npy"), "--out", str(out))
    assert res.returncode == 1 and "input file not found" in res.stderr


def test_loihi2_backend_fails_with_one_line(delay_files, tmp_path):
    _, net = delay_files
    np.save(tmp_path / "x.npy", np.zeros((1, 5, 2)))
    res = cli(
        "sg-lava",
        "run",
        str(net),
        "--input",
        str(tmp_path / "x.npy"),
        "--out",
        str(tmp_path / "o.npz"),
        "--backend",
        "loihi2",
    )
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "lava-loihi" in res.stderr


@pytest.mark.slow
def test_sg_lava_train_delay_reaches_95_percent_online(tmp_path):
    """The recipe's claim: >= 0.95 held-out accuracy online, fixed point within 2 points."""
    import torch

    out = tmp_path / "model.pt"
    res = cli("sg-lava", "train", "delay", "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    acc = float(lines[-1].removeprefix("accuracy: "))
    fixed = float(lines[-2].removeprefix("fixed-point accuracy: "))
    assert lines[-1].startswith("accuracy: ") and acc >= 0.95
    assert abs(acc - fixed) <= 0.02
    payload = torch.load(out, weights_only=True)
    assert payload["train"]["mode"] == "online" and payload["task"]["name"] == "delay"


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    """The main job (make demo), shortened: every file, the report, the verify line last."""
    out = tmp_path / "demo"
    res = cli(
        "sg-lava", "demo", "--out", str(out), "--epochs", "1", "--lava-samples", "5", "--quiet"
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("verify: ") and "(100.00%); first divergence: none" in last
    report = (out / "report.md").read_text()
    for needle in (
        "float model (PyTorch)",
        "fixed-point reference",
        "Lava, Loihi2SimCfg fixed_pt (5 samples)",
        "Hidden spikes per neuron per step",
        "Synaptic operations per inference",
        "`net.h5`",
    ):
        assert needle in report
    assert (out / "raster.png").stat().st_size > 10_000


@pytest.mark.slow
def test_verify_with_two_workers_reports_100_percent(delay_files):
    model, net = delay_files
    res = cli("sg-lava", "verify", str(model), str(net), "--samples", "4", "--workers", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    last = res.stdout.strip().splitlines()[-1]
    assert "(100.00%); first divergence: none" in last, last
