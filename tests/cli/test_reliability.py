"""The corpus of bad inputs and faults (issue 16): each gets one clear line, exit 1 (2 for
argument errors), no traceback, no partial or replaced file, inputs unchanged byte for byte,
and little memory. docs/reliability.md lists the cases."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from sg_lava.errors import UserError
from sg_lava.export import hdf5
from sg_lava.files import atomic_write
from sg_lava.model.modelfile import save_model
from sg_lava.reference.quantize import quantize_network
from tests.helpers import dense_net
from tests.reliability_helpers import digest, one_line_error, run

MAX_MB = 1024


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("good")
    net = dense_net([3, 5, 2])
    save_model(net, d / "model.pt")
    q, _ = quantize_network(net)
    hdf5.write(q, d / "net.h5")
    np.save(d / "x.npy", (np.random.default_rng(0).random((1, 6, 3)) < 0.3).astype(float))
    return {"model": d / "model.pt", "net": d / "net.h5", "x": d / "x.npy"}


@pytest.fixture
def work(tmp_path, files) -> Path:
    for p in files.values():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    return tmp_path


def check_refused(res, work: Path, before: dict[str, str], needle: str, code: int = 1) -> str:
    """Exit code, one line naming the problem, inputs unchanged, nothing new in the folder."""
    assert res.code == code, (res.code, res.err[-2000:])
    line = one_line_error(res)
    assert needle in line, line
    assert {p.name: digest(p) for p in work.iterdir() if p.is_file()} == before
    assert res.peak_mb < MAX_MB, res.peak_mb
    return line


def snapshot(work: Path) -> dict[str, str]:
    return {p.name: digest(p) for p in work.iterdir() if p.is_file()}


# -- HDF5 that reaches outside itself, or lies about its sizes ----------------------------


def edit_h5(path: Path, edit) -> None:
    with h5py.File(path, "r+") as h:
        edit(h)


def _external_link(h):
    del h["layer/1/weight"]
    h["layer/1/weight"] = h5py.ExternalLink("other.h5", "/w")


def _soft_link(h):
    del h["layer/1/weight"]
    h["layer/1/weight"] = h5py.SoftLink("/nowhere")


def _virtual(h):
    layout = h5py.VirtualLayout(shape=(5, 3), dtype="f4")
    layout[:] = h5py.VirtualSource("other.h5", "/w", shape=(5, 3))
    del h["layer/1/weight"]
    h.create_virtual_dataset("layer/1/weight", layout)


def _external_storage(h):
    del h["layer/1/weight"]
    h.create_dataset("layer/1/weight", (5, 3), "f4", external=[("secret.txt", 0, 60)])


def _huge_chunked(h):
    del h["layer/1/weight"]
    h.create_dataset("layer/1/weight", (1 << 20, 1 << 10), "f4", chunks=(1024, 1024))


def _set(key, value):
    def edit(h):
        del h[key]
        h[key] = value

    return edit


@pytest.mark.parametrize(
    "edit,needle",
    [
        (_external_link, "link to another file"),
        (_soft_link, "soft link"),
        (_virtual, "virtual dataset"),
        (_external_storage, "outside the file"),
        (_huge_chunked, "values, more than the limit 67108864"),
        (_set("layer/1/neuron/K", np.int64(10**12)), "K must lie in [1, 1024]"),
        (_set("layer/1/neuron/K", np.int64(-3)), "K must lie in [1, 1024]"),
        (_set("layer/1/outFeatures", np.int64(10**12)), "'outFeatures' is"),
        (_set("layer/1/inFeatures", np.int64(-1)), "'inFeatures' is"),
        (_set("layer/1/shape", np.array([-5])), "'shape' must be"),
        (_set("fixed_point/state_bits", np.int64(64)), "state_bits must lie in [2, 32]"),
        (_set("fixed_point/weight_bits", np.int64(0)), "weight_bits must lie in [2, 16]"),
        (_set("layer/1/weight", np.full((5, 3), np.nan, np.float32)), "finite"),
        (_set("layer/1/weight", np.zeros((5, 3), complex)), "unsupported type"),
    ],
)
def test_inspect_refuses_a_file_that_reaches_out_or_lies(work, edit, needle):
    (work / "secret.txt").write_text("root:x:0:0:SECRET-CONTENT" * 4)
    with h5py.File(work / "other.h5", "w") as o:
        o["w"] = np.full((5, 3), 4.0, np.float32)
    edit_h5(work / "net.h5", edit)
    before = snapshot(work)
    res = run("sg-lava", "inspect", str(work / "net.h5"))
    line = check_refused(res, work, before, needle)
    assert "SECRET" not in line and "root:x" not in line


def test_a_4gb_chunked_dataset_in_a_small_file_uses_little_memory(work):
    edit_h5(work / "net.h5", _huge_chunked)
    assert (work / "net.h5").stat().st_size < 100_000
    res = run("sg-lava", "run", str(work / "net.h5"), "--input", str(work / "x.npy"),
              "--out", str(work / "o.npz"))  # fmt: skip
    check_refused(res, work, snapshot(work), "more than the limit")


# -- model files whose config would allocate too much, or is not a config -----------------


def bad_model(path: Path, config=None, state=None, task=None, samples=None) -> None:
    net = dense_net([3, 5, 2])
    payload = {
        "format": "sg-lava-model",
        "version": 1,
        "config": config if config is not None else net.config,
        "task": task or {},
        "train": {},
        "samples": samples or {},
        "state_dict": state if state is not None else net.state_dict(),
    }
    torch.save(payload, path)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (
            {
                "config": {
                    "input_shape": [3],
                    "layers": [{"type": "dense", "out_features": 2}],
                    "K": 10**9,
                }
            },
            "K must be an integer in [1, 1024]",
        ),  # fmt: skip
        (
            {
                "config": {
                    "input_shape": [30000],
                    "layers": [
                        {"type": "dense", "out_features": 30000},
                        {"type": "dense", "out_features": 30000},
                    ],
                }
            },
            "weights exceed the limit",
        ),  # fmt: skip
        ({"config": {"input_shape": [3], "layers": "dense"}}, "layers must be a list"),
        (
            {"config": {"input_shape": [3], "layers": [{"type": "lstm"}]}},
            "type must be one of dense, conv",
        ),
        (
            {"config": {"input_shape": [3], "layers": [{"type": "dense", "out_features": -4}]}},
            "out_features must be",
        ),  # fmt: skip
        ({"task": {"name": "no-such-task"}}, "cannot regenerate its task"),
        ({"samples": {"calibration": torch.zeros(4, 6, 7)}}, "calibration samples have shape"),
        (
            {"state": {k: v * float("nan") for k, v in dense_net([3, 5, 2]).state_dict().items()}},
            "not finite",
        ),  # fmt: skip
    ],
)
def test_export_refuses_a_bad_model_file_early(work, kwargs, needle):
    bad_model(work / "bad.pt", **kwargs)
    assert (work / "bad.pt").stat().st_size < 20_000
    before = snapshot(work)
    res = run("sg-export", str(work / "bad.pt"), str(work / "out.h5"))
    check_refused(res, work, before, needle)


# -- outputs that would destroy something --------------------------------------------------


def test_export_onto_its_own_model_is_refused(work):
    before = snapshot(work)
    res = run("sg-export", str(work / "model.pt"), str(work / "model.pt"))
    check_refused(res, work, before, "one of this command's inputs")


@pytest.mark.parametrize("target", ["net", "input"])
def test_run_onto_its_own_input_is_refused(work, target):
    before = snapshot(work)
    out = work / ("net.h5" if target == "net" else "x.npy")
    res = run("sg-lava", "run", str(work / "net.h5"), "--input", str(work / "x.npy"),
              "--out", str(out))  # fmt: skip
    check_refused(res, work, before, "one of this command's inputs")


def test_export_through_a_symlink_to_its_model_is_refused(work):
    (work / "alias.pt").symlink_to(work / "model.pt")
    before = snapshot(work)
    res = run("sg-export", str(work / "model.pt"), str(work / "alias.pt"))
    check_refused(res, work, before, "one of this command's inputs")
    assert (work / "alias.pt").is_symlink()


def test_a_fifo_destination_is_not_replaced(work):
    os.mkfifo(work / "fifo")
    before = snapshot(work)
    res = run("sg-export", str(work / "model.pt"), str(work / "fifo"))
    check_refused(res, work, before, "not a regular file")
    assert stat.S_ISFIFO(os.stat(work / "fifo").st_mode)


def test_a_device_node_destination_is_not_replaced(work):
    try:
        os.mknod(work / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs privileges")
    before = snapshot(work)
    res = run("sg-export", str(work / "model.pt"), str(work / "null"))
    check_refused(res, work, before, "not a regular file")
    assert stat.S_ISCHR(os.stat(work / "null").st_mode)


def test_a_folder_destination_is_refused(work):
    (work / "dir").mkdir()
    before = snapshot(work)
    res = run("sg-export", str(work / "model.pt"), str(work / "dir"))
    check_refused(res, work, before, "is a folder")


def test_a_file_in_the_way_of_a_folder_fails_before_export_and_before_training(work):
    (work / "file").write_text("not a folder")
    before = snapshot(work)
    res = run("sg-export", str(work / "model.pt"), str(work / "file" / "new" / "net.h5"))
    check_refused(res, work, before, "is not a folder")
    res = run("sg-lava", "train", "delay", "--out", str(work / "file" / "model.pt"), "--quiet")
    check_refused(res, work, before, "is not a folder")
    assert res.seconds < 60  # refused before training (which takes minutes)
    assert sorted(p.name for p in work.iterdir() if p.is_dir()) == []


def test_missing_folders_of_an_output_are_made(work):
    res = run("sg-export", str(work / "model.pt"), str(work / "a" / "b" / "net.h5"))
    assert res.code == 0, res.err[-2000:]
    assert hdf5.read(work / "a" / "b" / "net.h5").layers


def test_a_read_only_folder_is_refused(work):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    ro = work / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    res = run("sg-export", str(work / "model.pt"), str(ro / "net.h5"))
    check_refused(res, work, snapshot(work), "permission denied")


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_umask_permissions(work, umask, mode):
    (work / "old.h5").write_bytes(b"x")
    (work / "old.h5").chmod(0o600)
    for name in ("net2.h5", "old.h5"):
        res = run("sg-export", str(work / "model.pt"), str(work / name), umask=umask)
        assert res.code == 0, res.err
        assert stat.S_IMODE(os.stat(work / name).st_mode) == mode
    assert not list(work.glob(".*.tmp"))


def test_a_full_disk_leaves_the_destination_and_no_temporary_file(tmp_path):
    dest = tmp_path / "out.npz"
    dest.write_bytes(b"old")

    def full(f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(UserError, match="no space left"):
        atomic_write(dest, full)
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


# -- inputs and arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda p: np.save(p, np.ones((1, 6, 3)) * (1 + 1j)), "complex"),
        (lambda p: np.save(p, np.full((1, 6, 3), 1e30)), "values must lie in [-8.38861e+06"),
        (lambda p: np.save(p, np.full((1, 6, 3), np.nan)), "finite"),
        (lambda p: np.save(p, np.zeros((0, 6, 3))), "is empty"),
        (lambda p: np.savez(p, x=np.zeros((1, 6, 3))), ".npz archive"),
        (lambda p: np.save(p, np.array(["a", "b"])), "non-numeric"),
    ],
)
def test_run_refuses_bad_inputs_naming_the_problem(work, make, needle):
    bad = work / "bad.npy"
    with open(bad, "wb") as f:
        make(f)
    before = snapshot(work)
    res = run("sg-lava", "run", str(work / "net.h5"), "--input", str(bad),
              "--out", str(work / "o.npz"))  # fmt: skip
    check_refused(res, work, before, needle)


def test_a_huge_declared_input_is_refused_with_little_memory(work):
    bad = work / "big.npy"
    with open(bad, "wb") as f:  # the header of a 24 TB array, then a few bytes
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6, 3)}
        )
        f.write(b"\0" * 64)
    before = snapshot(work)
    res = run("sg-lava", "run", str(work / "net.h5"), "--input", str(bad),
              "--out", str(work / "o.npz"))  # fmt: skip
    check_refused(res, work, before, str(bad))


@pytest.mark.parametrize(
    "args,needle",
    [
        (["verify", "m.pt", "n.h5", "--steps", "-5"], "--steps: must be at least 1"),
        (["verify", "m.pt", "n.h5", "--steps", "0"], "--steps: must be at least 1"),
        (["verify", "m.pt", "n.h5", "--samples", "0"], "--samples: must be at least 1"),
        (["train", "delay", "--out", "m.pt", "--resolution", "0"], "--resolution"),
        (["train", "delay", "--out", "m.pt", "--seed", "-1"], "--seed: must be at least 0"),
        (["train", "delay", "--out", "m.pt", "--epochs", "x"], "not an integer"),
    ],
)
def test_argument_errors_are_one_line_without_torch(work, args, needle):
    before = snapshot(work)
    res = run("sg-lava", *args, cwd=work)
    check_refused(res, work, before, needle, code=2)


def test_argument_errors_and_help_import_neither_torch_nor_numpy(fresh_python):
    code = (
        "import sys\nfrom sg_lava.cli import main\n"
        "for argv in (['verify', 'm', 'n', '--steps', '-5'], ['--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('torch' in sys.modules, 'numpy' in sys.modules, file=sys.stderr)\n"
    )
    res = fresh_python(code)
    assert res.stderr.strip().splitlines()[-1] == "False False", res.stderr


def test_verify_refuses_a_billion_samples_before_allocating(work):
    before = snapshot(work)
    res = run("sg-lava", "verify", str(work / "model.pt"), str(work / "net.h5"),
              "--samples", str(10**9))  # fmt: skip
    check_refused(res, work, before, "budget")


def test_help_answers_fast():
    res = run("sg-lava", "--help")
    assert res.code == 0 and "usage:" in res.out
    assert res.seconds < 5  # 0.08 s on an idle machine; generous under load
