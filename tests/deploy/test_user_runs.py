"""A user's own network and data, end to end: net.toml + npz or events -> train -> export -> verify."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sg_lava.cli import main
from tests.helpers import NET_TOML, write_user_events, write_user_npz

BIN = Path(sys.executable).parent


def cli(*args, cwd):
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def train_export_verify(tmp_path, *train_args):
    res = cli(
        "sg-lava", "train", "--net", "net.toml", "--out", "model.pt", *train_args, cwd=tmp_path
    )
    assert res.returncode == 0, res.stdout + res.stderr
    acc = re.search(r"^accuracy: ([0-9.]+)$", res.stdout, re.M)
    assert acc and float(acc.group(1)) >= 0.75, res.stdout  # learnt: chance is 0.5
    res = cli("sg-export", "model.pt", "net.h5", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    res = cli("sg-lava", "verify", "model.pt", "net.h5", "--samples", "6", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    last = res.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"verify: (\d+)/(\d+) spike events identical \(100\.00%\); first divergence: none", last)  # fmt: skip
    assert m and m.group(1) == m.group(2) and int(m.group(2)) > 0, last


OPTIONS = ("--quiet",)  # the --data recipe: ridge


@pytest.mark.slow
def test_hand_written_npz_and_net_toml_train_export_and_verify(tmp_path):
    (tmp_path / "net.toml").write_text(NET_TOML.format(n_in=3))
    write_user_npz(tmp_path / "data")
    train_export_verify(tmp_path, "--data", "data", *OPTIONS)


@pytest.mark.slow
def test_events_h5_and_net_toml_train_export_and_verify(tmp_path):
    (tmp_path / "net.toml").write_text(NET_TOML.format(n_in=8))  # sensor (4, 1, 2): 8 inputs
    write_user_events(tmp_path / "data")
    train_export_verify(tmp_path, "--data", "data", "--bins", "10", "--workers", "2", *OPTIONS)


@pytest.mark.parametrize(
    "args,message",
    [
        ((), "give a TASK, or --data DIR and --net net.toml"),
        (("--data", "data"), "--data DIR and --net net.toml go together"),
        (("delay", "--data", "data", "--net", "net.toml"), "not both"),
        (("--data", "data", "--net", "net.toml", "--bins", "5"), "already binned"),
        (("--data", "data", "--net", "net.toml", "--per-synapse"), "set in net.toml"),
        (("--data", "nowhere", "--net", "net.toml"), "data folder not found: nowhere"),
        (("--data", "data", "--net", "other.toml"), "other.toml: not found"),
    ],
)
def test_bad_user_runs_get_one_line(tmp_path, monkeypatch, capsys, args, message):
    (tmp_path / "net.toml").write_text(NET_TOML.format(n_in=3))
    write_user_npz(tmp_path / "data", n_train=4, n_test=2)
    monkeypatch.chdir(tmp_path)
    assert main(["train", *args, "--out", "m.pt"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "m.pt").exists()
