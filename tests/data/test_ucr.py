"""UEA/UCR .ts files into the --data layout: parsed, z-scored with training statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sg_lava.cli import main
from sg_lava.data.ucr import convert_ucr
from sg_lava.data.userdata import load_split

HEAD = "# a comment\n@problemName Toy\n@timeStamps false\n@missing false\n"


def write(folder, name, train, test, head=HEAD):
    folder.mkdir(parents=True, exist_ok=True)
    for split, body in (("TRAIN", train), ("TEST", test)):
        (folder / f"{name}_{split}.ts").write_text(head + body)
    return folder


def test_univariate_series_are_z_scored_with_the_training_statistics(tmp_path):
    train = "@classLabel true b a\n@data\n1,2,3:a\n3,4,5:b\n"
    test = "@classLabel true b a\n@data\n2,2,2:b\n"
    write(tmp_path / "ts", "Toy", train, test)
    assert convert_ucr(tmp_path / "ts", tmp_path / "out") == {"train": 2, "test": 1}
    tr, te = np.load(tmp_path / "out" / "train.npz"), np.load(tmp_path / "out" / "test.npz")
    values = np.array([1, 2, 3, 3, 4, 5.0])
    mean, std = values.mean(), values.std()
    np.testing.assert_allclose(tr["x"][:, :, 0], (values.reshape(2, 3) - mean) / std, rtol=1e-6)
    np.testing.assert_allclose(te["x"][0, :, 0], (2 - mean) / std, rtol=1e-6)  # train's stats
    assert tr["y"].tolist() == [1, 0] and te["y"].tolist() == [0]  # declared order: b, a
    assert "lengths" not in tr.files
    info = json.loads((tmp_path / "out" / "normalisation.json").read_text())
    assert info["classes"] == ["b", "a"] and info["mean"] == pytest.approx([mean])


def test_multivariate_series_of_unequal_length_are_padded_and_keep_their_lengths(tmp_path):
    train = "@univariate false\n@data\n1,2:4,5:1\n1,2,3,4:0,0,0,1:2\n"
    test = "@data\n7:8:2\n"
    write(tmp_path / "ts", "Toy", train, test)
    convert_ucr(tmp_path / "ts" / "Toy_TEST.ts", tmp_path / "out")  # either file names the pair
    tr = np.load(tmp_path / "out" / "train.npz")
    assert tr["x"].shape == (2, 4, 2) and tr["lengths"].tolist() == [2, 4]
    assert (tr["x"][0, 2:] == 0).all()  # padding stays 0
    assert tr["y"].tolist() == [0, 1]  # undeclared classes: sorted, numbers as numbers
    split = load_split(tmp_path / "out", "train", readout="last")
    assert split.mask.nonzero().tolist() == [[0, 1], [1, 3]]  # each sample's own last step


@pytest.mark.parametrize(
    "train,test,message",
    [
        ("@data\n1,?,3:a\n", "@data\n1,2,3:a\n", "missing values"),
        ("@data\n1,x,3:a\n", "@data\n1,2,3:a\n", "not a number"),
        ("@data\n1,2,3:a\n", "@data\n1,2,3:c\n", "class 'c' is not among"),
        ("@timeStamps true\n@data\n(0,1):a\n", "@data\n1:a\n", "time-stamped"),
        ("@data\n1,2:3:a\n", "@data\n1,2:3,4:a\n", "differ in length"),
        ("@data\n", "@data\n1:a\n", "holds no series"),
        ("@classLabel false\n@data\n1:a\n", "@data\n1:a\n", "not a classification"),
    ],
)
def test_bad_files_get_one_line_and_nothing_is_written(tmp_path, capsys, train, test, message):
    write(tmp_path / "ts", "Toy", train, test)
    assert main(["convert", "ucr", str(tmp_path / "ts"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out").exists()


def test_a_folder_with_two_problems_is_ambiguous(tmp_path, capsys):
    write(tmp_path / "ts", "One", "@data\n1:a\n", "@data\n1:a\n")
    write(tmp_path / "ts", "Two", "@data\n1:a\n", "@data\n1:a\n")
    assert main(["convert", "ucr", str(tmp_path / "ts"), "--out", str(tmp_path / "out")]) == 1
    assert "expected one NAME_TRAIN.ts, found One_TRAIN.ts, Two_TRAIN.ts" in capsys.readouterr().err
