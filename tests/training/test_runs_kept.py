"""Runs that are kept: no silent overwrite, --resume --epochs N extends, --init fine-tunes."""

from __future__ import annotations

import json
import math

import pytest
import torch

from sg_lava.cli import main
from sg_lava.errors import UserError
from sg_lava.model.modelfile import load_model, save_model
from sg_lava.training.checkpoints import cosine_lr, extend_schedule
from sg_lava.training.experiment import train_task
from sg_lava.training.runfiles import RunFiles, check_new_run
from tests.helpers import dense_net

SMALL = {"n_train": 96, "n_test": 30, "batch_size": 32, "progress": False}


def train(out, **kw):
    return train_task("delay", out, **{**SMALL, "epochs": 2, **kw})


def digests(files: RunFiles) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in files.existing()}


def test_a_second_run_into_the_same_out_is_refused_and_changes_nothing(tmp_path, capsys):
    out = tmp_path / "model.pt"
    train(out)
    files = RunFiles.beside(out)
    before = digests(files)
    assert set(before) == {p.name for p in (files.model, *files.side_files)}
    with pytest.raises(UserError, match="a run is already there .*--overwrite replaces it"):
        train(out)
    code = main(["train", "delay", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "--resume continues or extends it" in err[0], err
    assert digests(files) == before


def test_overwrite_replaces_the_run_and_resume_needs_a_checkpoint(tmp_path):
    out = tmp_path / "model.pt"
    train(out, epochs=3)
    res = train(out, epochs=1, overwrite=True)
    metrics = RunFiles.beside(out).metrics.read_text().splitlines()
    assert len(metrics) == 1 and len(res.history) == 1  # the old epochs are gone
    with pytest.raises(UserError, match="nothing to resume"):
        check_new_run(tmp_path / "other.pt", resume=True)
    with pytest.raises(UserError, match="not both"):
        check_new_run(out, resume=True, overwrite=True)


def test_resume_with_more_epochs_extends_a_finished_run_on_the_longer_cosine(tmp_path):
    out = tmp_path / "model.pt"
    first = train(out, epochs=2)
    assert [e["epoch"] for e in first.history] == [1, 2]
    more = train(out, epochs=4, resume=True)
    assert [e["epoch"] for e in more.history] == [1, 2, 3, 4]
    assert more.history[:2] == first.history
    batches = math.ceil(SMALL["n_train"] / SMALL["batch_size"])
    # epoch 3 starts at the step the run reached, on the cosine of a 4-epoch run
    assert more.history[2]["lr"] == pytest.approx(cosine_lr(0.01, 2 * batches, 4 * batches))
    assert more.history[2]["lr"] > 0.3 * 0.01  # risen again from the finished run's ~0
    lines = [json.loads(x) for x in RunFiles.beside(out).metrics.read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2, 3, 4]
    # resuming without --epochs finishes the run as asked: nothing left to do
    again = train(out, epochs=None, resume=True)
    assert len(again.history) == 4
    with pytest.raises(UserError, match="has done 4 epochs; --epochs 3 would end before them"):
        train(out, epochs=3, resume=True)


def test_extend_schedule_follows_the_closed_form_of_the_new_total():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(10):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    extend_schedule(sched, 20)
    for step in range(10, 20):
        assert opt.param_groups[0]["lr"] == pytest.approx(cosine_lr(0.1, step, 20), rel=1e-9)
        opt.step()
        sched.step()
    same = torch.optim.lr_scheduler.CosineAnnealingLR(torch.optim.Adam([p], lr=0.1), T_max=5)
    extend_schedule(same, 5)  # the run's own total changes nothing
    assert same.T_max == 5 and same.optimizer.param_groups[0]["lr"] == 0.1


def test_init_starts_from_a_model_file_of_the_same_layers_only(tmp_path, capsys):
    base = train(tmp_path / "base.pt", epochs=2)
    tuned = train(tmp_path / "tuned.pt", epochs=1, lr=1e-9, init=tmp_path / "base.pt")
    a, b = base.net.state_dict(), tuned.net.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # lr ~0: the init weights
    _, payload = load_model(tmp_path / "tuned.pt")
    assert payload["train"]["init"] == str(tmp_path / "base.pt")
    fresh = train(tmp_path / "fresh.pt", epochs=1, lr=1e-9)
    assert not all(torch.allclose(a[k], fresh.net.state_dict()[k]) for k in a)
    other = tmp_path / "other.pt"
    save_model(dense_net([2, 5, 3], K=8), other)
    code = main(["train", "delay", "--out", str(tmp_path / "x.pt"), "--init", str(other)] + ["--epochs", "1", "--n-train", "64", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert "its network (input [2], dense 5, dense 3; K 8) is not the one trained here" in err[0]
    assert "(input [2], dense 32, dense 3; K 8)" in err[0]
