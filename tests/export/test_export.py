"""net.h5: round trips, netx compatibility, the validator and every bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from sg_lava.export import hdf5
from sg_lava.export.summary import describe
from sg_lava.model.modelfile import save_model
from sg_lava.reference.fixed import FixedNetwork
from sg_lava.reference.quantize import quantize_network
from tests.helpers import conv_net, dense_net, events, spread_copies

BIN = Path(sys.executable).parent

NETS = {  # spread_copies: per-synapse copies on different grids (copy_exp), else a no-op
    "dense": lambda ps: spread_copies(dense_net([4, 6, 5, 3], K=3, per_synapse=ps)),
    "conv": lambda ps: spread_copies(conv_net(K=3, per_synapse=ps)),
}


@pytest.mark.parametrize("per_synapse", [False, True], ids=["per-neuron", "per-synapse"])
@pytest.mark.parametrize("kind", list(NETS))
def test_round_trip_rebuilds_an_identical_fixed_point_model(tmp_path, kind, per_synapse):
    net = NETS[kind](per_synapse)
    x = events(net.input_shape, 25)
    q, _ = quantize_network(net, calibration=x.float())
    path = tmp_path / "net.h5"
    hdf5.write(q, path, {"source": "test"})
    back = hdf5.read(path)
    assert back.meta["source"] == "test" and back.timing == q.timing and back.spec == q.spec
    for a, b in zip(q.layers, back.layers):
        for f in a.__dataclass_fields__:
            va, vb = getattr(a, f), getattr(b, f)
            if isinstance(va, np.ndarray):
                assert np.array_equal(va, vb), f
            else:
                assert va == vb, f
    o1, s1, _ = FixedNetwork(q).run(x.long())
    o2, s2, _ = FixedNetwork(back).run(x.long())
    assert torch.equal(o1, o2) and all(torch.equal(a, b) for a, b in zip(s1, s2))
    with h5py.File(path) as h:  # copy_exp needs a 2.x reader; without it 1.x readers read it
        assert h.attrs["format_version"] == ("2.0" if per_synapse else "1.0")
        assert per_synapse == ("copy_exp" in h["layer/1/neuron"])
    assert per_synapse == ("copy_exp 0 " in describe(back))  # what sg-lava inspect prints


def test_standard_groups_read_back_through_netx_netdict(tmp_path):
    from lava.lib.dl.netx.utils import NetDict

    q, _ = quantize_network(conv_net())
    path = tmp_path / "net.h5"
    hdf5.write(q, path)
    nd = NetDict(str(path))
    layers = nd["layer"]
    types = [layers[i]["type"] for i in range(len(layers))]
    assert types == ["input", "conv", "conv", "flatten", "dense"]
    conv = layers[1]
    assert np.array_equal(conv["shape"], [4, 8, 8])
    assert np.array_equal(conv["weight"], q.layers[0].weight)  # netx reads ints
    assert np.array_equal(conv["stride"], [1, 1]) and np.array_equal(conv["padding"], [1, 1])
    assert conv["weight"].dtype.kind == "i" and conv["weight"].shape == (4, 2, 3, 3)
    folded = layers[2]  # the pool folded into this conv: 6x6 kernel, stride 2
    assert np.array_equal(folded["stride"], [2, 2]) and folded["weight"].shape == (3, 4, 6, 6)
    dense = layers[4]
    assert np.array_equal(dense["weight"], q.layers[2].weight)
    assert np.array_equal(dense["bias"], q.layers[2].neuron.bias)
    assert dense["neuron"]["type"] == "GAMMA"
    assert int(dense["neuron"].f["K"][()]) == 3


def corrupt(path: Path, key: str, value) -> None:
    with h5py.File(path, "r+") as h:
        if key in h:
            del h[key]
        h[key] = value


@pytest.fixture
def good_file(tmp_path):
    q, _ = quantize_network(dense_net([4, 6, 3]))
    path = tmp_path / "net.h5"
    hdf5.write(q, path)
    return path


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("layer/1/weight", np.ones((6, 4), np.float32), "even integers"),
        ("layer/1/weight", np.zeros((5, 4), np.float32), "weight. has shape"),
        ("layer/1/neuron/decay", np.array([0, 5, 9]), "decay must lie in \\[1, 4095\\]"),
        ("layer/1/neuron/decay_out", np.int64(7), "decay_out"),
        ("layer/2/neuron/bucket_weight", np.zeros((2, 3)), "bucket_weight. has shape"),
        ("layer/1/bias", np.full(6, 0.5, np.float32), "must hold integers"),
        ("layer/2/neuron/type", "CUBA", "type must be 'GAMMA'"),
        ("layer/1/neuron/copy_exp", np.zeros(3, np.int64), "copy_exp is for per-synapse"),
    ],
)
def test_validator_names_the_problem(good_file, key, value, message):
    corrupt(good_file, key, value)
    with pytest.raises(hdf5.FormatError, match=message):
        hdf5.read(good_file)


def test_missing_field_and_future_version_are_refused(good_file):
    with h5py.File(good_file, "r+") as h:
        del h["layer/1/neuron/theta0"]
    with pytest.raises(hdf5.FormatError, match="missing 'theta0'"):
        hdf5.read(good_file)
    with h5py.File(good_file, "r+") as h:
        h.attrs["format_version"] = "4.0"
    with pytest.raises(hdf5.FormatError, match="newer than this sg-lava reads"):
        hdf5.read(good_file)


def cli(*args, cwd=None):
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd)


def assert_one_line_error(res):
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    return lines[0]


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.pt"
    save_model(dense_net([2, 6, 3]), path)
    return path


def test_export_inspect_happy_path(tmp_path, model_file):
    out = tmp_path / "net.h5"
    res = cli("sg-export", str(model_file), str(out))
    assert res.returncode == 0, res.stderr
    assert "weight bits" in res.stdout and out.is_file()
    res = cli("sg-lava", "inspect", str(out))
    assert res.returncode == 0, res.stderr
    assert "total: 2 layers, 9 neurons" in res.stdout and "GAMMA" not in res.stdout
    assert "per-neuron" in res.stdout and "source_sha256" in res.stdout


def test_bad_inputs_fail_cleanly_without_partial_files(tmp_path, model_file):
    out = tmp_path / "net.h5"
    msg = assert_one_line_error(cli("sg-export", str(tmp_path / "nope.pt"), str(out)))
    assert "not found" in msg
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "not a readable model" in assert_one_line_error(cli("sg-export", str(text), str(out)))

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "sg-lava-model", "payload": Evil()}, evil)
    assert "safe load refuses" in assert_one_line_error(cli("sg-export", str(evil), str(out)))
    assert not (tmp_path / "pwned").exists()
    msg = assert_one_line_error(cli("sg-export", str(model_file), str(text / "net.h5")))
    assert f"cannot make folder {text}: {text} is not a folder" in msg
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))


def test_corrupt_truncated_and_future_files_fail_cleanly(tmp_path, model_file):
    out = tmp_path / "net.h5"
    assert cli("sg-export", str(model_file), str(out)).returncode == 0
    data = out.read_bytes()
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(data[: len(data) // 2])
    assert "corrupt or truncated" in assert_one_line_error(cli("sg-lava", "inspect", str(trunc)))
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"\x89HDF\r\n" + os.urandom(500))
    assert_one_line_error(cli("sg-lava", "inspect", str(garbage)))
    with h5py.File(out, "r+") as h:
        h.attrs["format_version"] = "7.1"
    assert "7.1" in assert_one_line_error(cli("sg-lava", "inspect", str(out)))


def test_export_refuses_saturation_unless_allowed(tmp_path):
    net = dense_net([2, 4, 3])
    with torch.no_grad():
        net.gamma_layers[0].bias.fill_(5000.0)  # beyond the 24-bit state range at F = 12
    model = tmp_path / "model.pt"
    save_model(net, model)
    out = tmp_path / "net.h5"
    msg = assert_one_line_error(cli("sg-export", str(model), str(out)))
    assert "--allow-saturation" in msg and not out.exists()
    res = cli("sg-export", str(model), str(out), "--allow-saturation")
    assert res.returncode == 0, res.stderr
    assert "100.00%" in res.stdout and out.is_file()


def test_reader_does_not_import_torch(good_file):
    code = (
        f"import sys; from sg_lava.export import hdf5; q = hdf5.read({str(good_file)!r}); "
        "print(len(q.layers), 'torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.strip() == "2 False", res.stderr


def test_files_written_by_the_first_release_still_load_and_match():
    """tests/data holds a demo model.pt and the net.h5 that sg-lava 0.1.0 (before the
    GammaParams refactor) exported from it: it still reads, and today's export of the same
    model gives identical integers."""
    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.deploy.verify import parameter_mismatches

    data = Path(__file__).resolve().parents[1] / "fixtures"
    old = hdf5.read(data / "delay_net_v1_0.h5")
    assert old.meta["sg_lava_version"] == "0.1.0" and len(old.layers) == 2
    assert parameter_mismatches(Pipeline(data / "delay_model_v1.pt").qnet, old) == []


def test_cli_notes_a_file_trained_in_zero_timing(tmp_path):
    from sg_lava.cli.base import timing_note

    for timing in ("zero", "lava"):
        q, _ = quantize_network(dense_net([4, 6, 3], timing=timing))
        hdf5.write(q, tmp_path / f"{timing}.h5")
    zero, lava = (str(tmp_path / f"{t}.h5") for t in ("zero", "lava"))
    assert "trained in 'zero' timing" in timing_note(hdf5.read(zero), zero)
    assert timing_note(hdf5.read(lava), lava) is None
