"""The tonic converter and the streamed tonic loader: the same samples, binned the same."""

from __future__ import annotations

import pytest
import torch

from sg_lava.cli import main
from sg_lava.data.datasets import tonic_split
from sg_lava.data.userdata import events_split
from tests.helpers import write_hsd


def test_converted_shd_bins_exactly_as_tonic_streams_it(tmp_path, capsys):
    write_hsd(tmp_path / "data", split="train", n=6, seed=0)
    write_hsd(tmp_path / "data", split="test", n=4, seed=1)
    assert (
        main(["convert", "tonic", "shd", str(tmp_path / "data"), "--out", str(tmp_path / "conv")])
        == 0
    )
    assert "train.h5 (6 samples), test.h5 (4)" in capsys.readouterr().out
    for split, n in (("train", 6), ("test", 4)):
        tonic = tonic_split("SHD", tmp_path / "data", split, bins=8, workers=1)
        mine = events_split(tmp_path / "conv", split, bins=8, n_classes=20)
        (xa, ya, _), (xb, yb, _) = next(tonic.batches(n)), next(mine.batches(n))
        assert xa.shape == (n, 8, 700) and xa.sum() > 0
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and tonic.n_classes == 20


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("Foo", "data", "unknown tonic dataset 'Foo'"),
        ("nmnst", "data", "unknown tonic dataset 'nmnst'; did you mean NMNIST? tonic has"),
        ("NMNIST", "data", "NMNIST data not found in"),
        ("SHD", "data", "SHD train data not found: put shd_train.h5.zip"),
    ],
)
def test_missing_or_unknown_datasets_get_one_line_and_no_download(tmp_path, capsys, name, data, message):  # fmt: skip
    assert main(["convert", "tonic", name, str(tmp_path / data), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / data / name).exists() or not any((tmp_path / data / name).iterdir())
    assert not (tmp_path / "o").exists()  # a failed conversion leaves no output folder


def test_disk_cache_gives_the_same_batches_and_fills_the_cache(tmp_path):
    write_hsd(tmp_path / "data", split="test", n=5, seed=2)
    plain = tonic_split("SHD", tmp_path / "data", "test", bins=7)
    cached = tonic_split("SHD", tmp_path / "data", "test", bins=7, cache=tmp_path / "cache")
    gen = [torch.Generator().manual_seed(4) for _ in range(2)]
    (xa, ya, _), (xb, yb, _) = next(plain.batches(5, gen[0])), next(cached.batches(5, gen[1]))
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert len(list((tmp_path / "cache" / "SHD" / "test").glob("*.hdf5"))) == 5
