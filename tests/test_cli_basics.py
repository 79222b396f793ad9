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
    from sg_lava import cli, experiment

    seen = {}

    class Result:
        seconds, fixed_accuracy, float_accuracy = 0.0, 0.5, 0.5

    def fake_train_task(task, out, **kw):
        seen.update(task=task, out=out, **kw)
        return Result()

    monkeypatch.setattr(experiment, "train_task", fake_train_task)
    out = str(tmp_path / "m.pt")
    assert cli.main(["train", task, "--out", out, "--credit", "alpha", "--quiet"]) == 0
    assert seen["task"] == task and seen["credit"] == "alpha" and seen["out"] == out
