"""The console scripts exist and answer --help."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)


@pytest.mark.parametrize("script", ["sg-lava", "sg-export"])
def test_console_script_help(script):
    res = subprocess.run([os.path.join(BIN, script), "--help"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "usage:" in res.stdout


@pytest.mark.parametrize("task", ["delay-precise", "echo"])
def test_train_accepts_the_new_tasks_and_credit(task, monkeypatch, tmp_path):
    """`sg-lava train TASK` reaches train_task with the task, its credit and its output."""
    from sg_lava import cli
    from sg_lava.deploy import pipeline
    from sg_lava.training import experiment

    seen = {}

    class Result:
        seconds, float_accuracy, path, test, settings = 0.0, 0.5, tmp_path / "m.pt", None, {}

    class FakePipeline:
        def __init__(self, path, device=None):
            seen["exported"] = path

        def fixed_accuracy(self, data):
            return 0.5

    monkeypatch.setattr(pipeline, "Pipeline", FakePipeline)

    def fake_train_task(task, out, **kw):
        seen.update(task=task, out=out, **kw)
        return Result()

    monkeypatch.setattr(experiment, "train_task", fake_train_task)
    out = str(tmp_path / "m.pt")
    assert cli.main(["train", task, "--out", out, "--credit", "alpha", "--quiet"]) == 0
    assert seen["task"] == task and seen["credit"] == "alpha" and seen["out"] == out


def test_a_closed_pipe_ends_a_command_quietly(tmp_path):
    """`sg-lava inspect net.h5 | head -1`: once the reader is gone the command stops with
    SIGPIPE's status and no message, not an internal error."""
    from sg_lava.export import hdf5
    from sg_lava.reference.quantize import quantize_network
    from tests.helpers import dense_net

    path = tmp_path / "net.h5"
    hdf5.write(quantize_network(dense_net([3, 4, 2]))[0], path)
    r, w = os.pipe()
    os.close(r)  # no reader: the first write fails with EPIPE
    try:
        res = subprocess.run([os.path.join(BIN, "sg-lava"), "inspect", str(path)], stdout=w,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    finally:
        os.close(w)
    assert res.returncode == 141 and res.stderr == ""
