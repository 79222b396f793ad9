"""--data runs: a stratified validation split of the training data; test only at the end."""

from __future__ import annotations

import numpy as np
import pytest

from sg_lava.data.userdata import open_data, stratified_split
from sg_lava.errors import UserError
from tests.helpers import write_user_events, write_user_npz

NET = """input_shape = [3]
K = 3
theta0 = 0.5

[[layers]]
type = "dense"
out_features = 6

[[layers]]
type = "dense"
out_features = 2
"""


def test_the_split_is_stratified_disjoint_and_seeded():
    labels = np.array([0] * 30 + [1] * 10 + [2] * 2)
    keep, held = stratified_split(labels, 0.1, seed=0)
    assert sorted(keep + held) == list(range(42)) and not set(keep) & set(held)
    assert np.bincount(labels[held]).tolist() == [3, 1, 1]  # every class, about 10 %
    assert stratified_split(labels, 0.1, seed=0) == (keep, held)
    assert stratified_split(labels, 0.1, seed=1)[1] != held
    one = np.array([0, 0, 0, 1])  # a class of one sample stays in training
    assert np.bincount(one[stratified_split(one, 0.5, 0)[1]], minlength=2).tolist() == [2, 0]
    with pytest.raises(UserError, match="valid-fraction"):
        stratified_split(labels, 1.0, 0)


@pytest.mark.parametrize("events", [False, True])
def test_the_validation_split_comes_from_the_training_files(tmp_path, events):
    (write_user_events if events else write_user_npz)(tmp_path, n_train=40, n_test=10)
    shape = (8,) if events else (3,)
    user = open_data(tmp_path, 2, shape, bins=5 if events else None)
    train, valid = user.split_valid(0.25, seed=3)
    assert len(train) == 30 and len(valid) == 10
    (x_all, _, _), (x_val, y_val, _) = next(user.train.batches(40)), next(valid.batches(10))
    _, held = stratified_split(user.labels, 0.25, 3)
    assert np.array_equal(x_val.numpy(), x_all.numpy()[held])  # samples of the training file
    assert np.bincount(y_val.numpy()).tolist() == [5, 5]


def test_a_data_run_chooses_its_model_on_validation_and_measures_test_once(tmp_path, monkeypatch):
    from sg_lava.training import experiment

    write_user_npz(tmp_path / "data", n_train=40, n_test=12)
    (tmp_path / "net.toml").write_text(NET)
    seen = []
    scores, accuracy = experiment.float_scores, experiment.float_accuracy
    monkeypatch.setattr(
        experiment,
        "float_scores",
        lambda net, data, loss=None: seen.append(("scores", len(data))) or scores(net, data, loss),
    )
    monkeypatch.setattr(
        experiment,
        "float_accuracy",
        lambda net, data: seen.append(("accuracy", len(data))) or accuracy(net, data),
    )
    res = experiment.train_user(
        tmp_path / "net.toml",
        tmp_path / "data",
        tmp_path / "m.pt",
        epochs=3,
        progress=False,
        mode="online",
    )
    # each of 3 epochs: the validation split (4 of the 40 training samples) chooses, the 36
    # others give the curve's training accuracy; then the test split, once
    assert seen == [("scores", 4), ("accuracy", 36)] * 3 + [("scores", 12)]
    assert [e["epoch"] for e in res.history] == [1, 2, 3] and "accuracy" in res.history[0]
    assert (tmp_path / "m.best.pt").is_file()
    from sg_lava.model.modelfile import load_model

    _, payload = load_model(tmp_path / "m.pt")
    assert payload["task"]["valid_fraction"] == 0.1
    assert payload["samples"]["calibration"].shape[0] == 36  # from the training part only


def test_ridge_refuses_the_settings_of_gradient_training(tmp_path):
    from sg_lava.training.experiment import train_user

    write_user_npz(tmp_path / "data", n_train=40, n_test=12)
    (tmp_path / "net.toml").write_text(NET)
    with pytest.raises(UserError, match="--epochs, --lr: gradient training settings"):
        train_user(tmp_path / "net.toml", tmp_path / "data", tmp_path / "m.pt", epochs=3, lr=0.1)
    assert not (tmp_path / "m.pt").exists()
