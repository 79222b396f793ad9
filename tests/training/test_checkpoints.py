"""Checkpoints: files beside the model, exact resume, Ctrl-C leaves a usable checkpoint."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from sg_lava.data.tasks import TaskData, delay_detection
from sg_lava.errors import UserError
from sg_lava.model.modelfile import load_model, save_model
from sg_lava.training.checkpoints import Checkpoints, RunFiles, rng_states, set_rng_states
from sg_lava.training.config import TrainConfig
from sg_lava.training.loop import float_accuracy, float_scores, train
from tests.helpers import dense_net

CFG = TrainConfig(mode="online", epochs=3, batch_size=16, lr=0.02, seed=4, device="cpu")


class Interrupting(TaskData):
    """A task whose batches raise KeyboardInterrupt after ``after`` batches (a Ctrl-C)."""

    def __init__(self, data: TaskData, after: int) -> None:
        super().__init__(data.x, data.y, data.mask, data.n_classes)
        self.left = after

    def batches(self, batch_size, generator=None):
        for batch in super().batches(batch_size, generator):
            if self.left == 0:
                raise KeyboardInterrupt
            self.left -= 1
            yield batch


def tiny():
    return delay_detection(64, seed=3, steps=30, delay=6, margin=3, max_delay=12)


def run(folder, data, cfg=CFG, resume=False, seed=0):
    folder.mkdir(exist_ok=True)
    files = RunFiles.beside(folder / "model.pt")
    net = dense_net([2, 8, 3], K=3, seed=seed)
    valid = tiny()
    ckpt = Checkpoints(files, lambda n, p: save_model(n, p))
    hist = train(
        net,
        data,
        cfg,
        evaluate=lambda n: float_scores(n, valid),
        progress=False,
        checkpoints=ckpt,
        resume=resume,
    )
    return net, hist, files


def test_resume_after_an_interrupt_ends_with_the_same_model(tmp_path):
    net_a, hist_a, files_a = run(tmp_path / "a", tiny())
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the middle of epoch 3 (4 batches/epoch)
        run(tmp_path / "b", Interrupting(tiny(), after=10))
    files_b = RunFiles.beside(tmp_path / "b" / "model.pt")
    state = torch.load(files_b.checkpoint, weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    # another initialisation and scrambled global generators: all must come from the file
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    net_b, hist_b, _ = run(tmp_path / "b", tiny(), resume=True, seed=7)
    sa, sb = net_a.state_dict(), net_b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [e["loss"] for e in hist_a] == [e["loss"] for e in hist_b]
    metrics = [json.loads(line) for line in files_b.metrics.read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2, 3]
    assert [m["accuracy"] for m in metrics] == [e["accuracy"] for e in hist_a]
    assert files_b.curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_best_epoch_by_validation_accuracy_is_kept(tmp_path):
    net, hist, files = run(tmp_path, tiny())
    best = max(range(3), key=lambda i: (hist[i]["accuracy"], -i))
    state = torch.load(files.checkpoint, weights_only=True)
    assert state["best"] == {"epoch": best + 1, "accuracy": hist[best]["accuracy"]}
    kept, _ = load_model(files.best)
    assert float_accuracy(kept, tiny()) == hist[best]["accuracy"]


def test_resume_refuses_other_settings_and_missing_checkpoints(tmp_path):
    run(tmp_path, tiny(), TrainConfig(**{**CFG.__dict__, "epochs": 1}))
    with pytest.raises(UserError, match="lr 0.02 vs 0.05"):
        run(tmp_path, tiny(), TrainConfig(**{**CFG.__dict__, "epochs": 1, "lr": 0.05}), True)
    with pytest.raises(UserError, match="checkpoint not found"):
        run(tmp_path / "new", tiny(), resume=True)


def test_the_validation_split_has_a_seed_of_its_own():
    from sg_lava.data.tasks import split_seed

    taken = {split_seed(s, split) for s in range(1000) for split in ("train", "test")}
    assert not taken & {split_seed(s, "valid") for s in range(1000)}


def test_random_states_survive_the_file(tmp_path):
    gen = torch.Generator().manual_seed(1)
    states = rng_states(gen)
    path = tmp_path / "rng.pt"
    torch.save(states, path)
    first = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=gen))
    set_rng_states(torch.load(path, weights_only=True), gen)
    again = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=gen))
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert first[2] == again[2] and torch.equal(first[3], again[3])


def cli(*args, **kw):
    cmd = [sys.executable, "-m", "sg_lava", "train", "delay", "--n-train", "128", "--n-test"]
    return cmd + ["32", "--device", "cpu", "--seed", "2", *args]


@pytest.mark.slow
def test_ctrl_c_then_resume_through_the_command_line(tmp_path):
    """SIGINT while training: exit 130, a checkpoint that loads safely; --resume finishes
    with exactly the model of an uninterrupted run."""
    full = subprocess.run(
        cli("--epochs", "3", "--out", str(tmp_path / "full.pt")),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert full.returncode == 0, full.stderr
    # not a terminal: one line per epoch, no progress-bar redraws
    assert [ln.split(":")[0] for ln in full.stdout.splitlines() if ln.startswith("epoch")] == [
        "epoch 1/3", "epoch 2/3", "epoch 3/3"
    ]  # fmt: skip
    assert "\r" not in full.stderr and "batch/s" not in full.stderr
    out = tmp_path / "cut.pt"
    files = RunFiles.beside(out)
    proc = subprocess.Popen(
        cli("--epochs", "3", "--out", str(out)), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 240
    while not files.checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume continues" in err.decode()
    assert not out.exists()
    assert torch.load(files.checkpoint, weights_only=True)["epoch"] < 3
    res = subprocess.run(cli("--epochs", "3", "--out", str(out), "--resume"), timeout=300)
    assert res.returncode == 0
    a, _ = load_model(tmp_path / "full.pt")
    b, _ = load_model(out)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
