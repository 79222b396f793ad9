"""``evaluate --data DIR`` and ``plan --data DIR`` read event folders (test.h5), binned as the
model was trained unless --bins says otherwise."""

from __future__ import annotations

import json

import pytest

from sg_lava.cli import main
from sg_lava.deploy.pipeline import Pipeline
from sg_lava.training.experiment import train_user
from tests.helpers import NET_TOML, write_user_events


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("events")
    write_user_events(d / "data", n_train=24, n_test=10)
    (d / "net.toml").write_text(NET_TOML.format(n_in=8))  # sensor (4, 1, 2): 8 inputs
    train_user(d / "net.toml", d / "data", d / "model.pt", bins=6, progress=False)  # ridge
    Pipeline(d / "model.pt").export(d / "net.h5", allow_saturation=True)
    return d


def test_evaluate_reads_test_h5_with_the_bins_the_model_records(run, capsys):
    args = ["evaluate", str(run / "model.pt"), str(run / "net.h5"), "--data", str(run / "data")]
    assert main([*args, "--json"]) == 0
    recorded = json.loads(capsys.readouterr().out)
    assert recorded["samples"] == 10 and 0 <= recorded["fixed_accuracy"] <= 1
    pipe = Pipeline(run / "model.pt")
    six = pipe.task_data(data=str(run / "data"))
    assert six.head(1).x.shape == (1, 6, 8)  # the model's 6 bins
    assert pipe.task_data(data=str(run / "data"), bins=4).head(1).x.shape == (1, 4, 8)
    assert main([*args, "--bins", "4"]) == 0
    assert "samples: 10" in capsys.readouterr().out


def test_plan_measures_activity_on_an_event_folder(run, capsys):
    data = str(run / "data")
    assert main(["plan", str(run / "net.h5"), "--data", data, "--samples", "4"]) == 0
    out = capsys.readouterr().out
    assert "activity over 4 sample(s) x 6 steps" in out
    assert main(["plan", str(run / "net.h5"), "--data", data, "--bins", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["activity"]["steps"] == 3


def test_an_event_folder_without_recorded_bins_asks_for_them(run, capsys, tmp_path):
    from sg_lava.export import hdf5

    q = hdf5.read(run / "net.h5")
    q.meta.pop("task_info", None)
    hdf5.write(q, tmp_path / "bare.h5")
    code = main(["plan", str(tmp_path / "bare.h5"), "--data", str(run / "data")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "needs --bins N" in err[0], err
