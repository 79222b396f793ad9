"""One rule for a model's own inputs: verify and plan measure a file on the same samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sg_lava.data.recipes import RECIPES
from sg_lava.deploy.activity import activity_inputs
from sg_lava.deploy.pipeline import Pipeline
from sg_lava.errors import UserError
from sg_lava.export import hdf5
from sg_lava.model.modelfile import save_model
from tests.helpers import dense_net


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A delay model recorded at resolution 2 and seed 3, exported."""
    d = tmp_path_factory.mktemp("heldout")
    params = {**RECIPES["delay"]["task"], "resolution": 2}
    task = {"name": "delay", "params": params, "seed": 3, "n_train": 32, "n_test": 8}
    save_model(dense_net([2, 6, 3]), d / "model.pt", task=task)
    Pipeline(d / "model.pt").export(d / "net.h5", allow_saturation=True)
    return d / "model.pt", d / "net.h5"


def test_the_file_records_the_task_and_plan_regenerates_it_at_its_resolution(exported):
    model, net = exported
    qfile = hdf5.read(net)
    info = json.loads(qfile.meta["task_info"])
    assert info["params"]["resolution"] == 2 and info["seed"] == 3
    steps = RECIPES["delay"]["task"]["steps"] * 2
    x = activity_inputs(qfile, 5, task="")
    assert x.shape == (5, steps + qfile.latency, 2)  # not the default resolution's 60 steps
    mine = Pipeline(model).inputs("test", 5).numpy()
    assert np.array_equal(x, mine)  # verify's inputs, sample for sample
    other = activity_inputs(qfile, 5, task="", seed=4)
    assert not np.array_equal(other, x)  # --seed picks another split


def test_another_task_name_takes_its_recipe_and_unknown_names_are_refused(exported):
    qfile = hdf5.read(exported[1])
    x = activity_inputs(qfile, 2, task="delay-precise")
    assert x.shape[1] == RECIPES["delay-precise"]["task"]["steps"] + qfile.latency
    with pytest.raises(UserError, match="unknown task 'nope'"):
        activity_inputs(qfile, 2, task="nope")


def test_stored_samples_come_before_a_task_and_a_file_without_either_is_refused(tmp_path):
    net = dense_net([2, 4, 3])
    kept = torch.rand(3, 7, 2)
    save_model(net, tmp_path / "m.pt", task={"name": "data"}, samples={"test": kept})
    x = Pipeline(tmp_path / "m.pt").inputs("test", 2)
    assert torch.equal(x[:, :7], kept[:2]) and x.shape[1] == 7 + net.latency
    assert Pipeline(tmp_path / "m.pt").inputs("train", 2) is None
    save_model(net, tmp_path / "bare.pt")
    Pipeline(tmp_path / "bare.pt").export(tmp_path / "bare.h5", allow_saturation=True)
    with pytest.raises(UserError, match="records no task"):
        activity_inputs(hdf5.read(tmp_path / "bare.h5"), 2, task="")


@pytest.mark.slow
def test_a_deployment_runs_the_integer_reference_three_times(tmp_path, monkeypatch):
    """Calibration, saturation on it, the test set; verification reuses the test set's run."""
    from sg_lava.data.tasks import task_split
    from sg_lava.deploy.report import deploy
    from sg_lava.reference.fixed import FixedNetwork

    params = {"steps": 20, "delay": 4, "margin": 2, "max_delay": 8}
    task = {"name": "delay", "params": params, "seed": 0, "n_test": 40}
    save_model(dense_net([2, 6, 3], theta0=0.5), tmp_path / "model.pt", task=task)
    runs = []
    original = FixedNetwork.run
    monkeypatch.setattr(
        FixedNetwork, "run", lambda self, *a, **k: runs.append(1) or original(self, *a, **k)
    )
    test = task_split(task, "test", 40)
    dep = deploy(Pipeline(tmp_path / "model.pt"), tmp_path / "out", test, 6, progress=False)
    assert len(runs) == 3 and dep.verify.ok and dep.lava_matches_fixed
    assert dep.verify.layers[0].events_reference > 0  # a comparison of something
