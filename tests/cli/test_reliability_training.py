"""The training side's corpus (issue 30): --data folders, events files, net.toml,
checkpoints and --resume, convert, plan and evaluate, DataLoader workers. Each bad input
gets one line (exit 1, or 2 for arguments), no traceback, nothing read from outside the
file, no file left behind and little memory; memory-bound cases run under a small
SG_LAVA_MEMORY_BUDGET so that they are fast. docs/reliability.md lists the cases."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from sg_lava.deploy.pipeline import Pipeline
from sg_lava.files import output_lock
from sg_lava.model.modelfile import save_model
from sg_lava.training.experiment import train_user
from tests.helpers import NET_TOML, dense_net, write_hsd, write_user_events, write_user_npz
from tests.reliability_helpers import digest, one_line_error, run

MAX_MB = 1024
SMALL = {"SG_LAVA_MEMORY_BUDGET": "256M"}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """Data of both formats, their net.toml, a --data model with its checkpoint and net.h5."""
    d = tmp_path_factory.mktemp("base")
    write_user_npz(d / "npz", n_train=8, n_test=4, T=6)
    write_user_events(d / "ev", n_train=8, n_test=4)
    (d / "net3.toml").write_text(NET_TOML.format(n_in=3))
    (d / "net8.toml").write_text(NET_TOML.format(n_in=8))
    train_user(d / "net3.toml", d / "npz", d / "m.pt", epochs=2, batch_size=4, progress=False,
               device="cpu", mode="online")  # fmt: skip
    Pipeline(d / "m.pt").export(d / "m.h5", allow_saturation=True)
    return d


@pytest.fixture
def work(tmp_path, base) -> Path:
    shutil.copytree(base, tmp_path, dirs_exist_ok=True)
    return tmp_path


def snapshot(work: Path) -> dict[str, str]:
    """Every file under ``work`` (hidden ones too) and its digest."""
    return {str(p.relative_to(work)): digest(p) for p in work.rglob("*") if p.is_file()}


def refused(res, work: Path, before: dict[str, str], needle: str, code: int = 1) -> str:
    """Exit code, one line naming the problem, every file as it was, little memory."""
    assert res.code == code, (res.code, res.err[-2000:])
    line = one_line_error(res)
    assert needle in line, line
    assert snapshot(work) == before
    assert res.peak_mb < MAX_MB, res.peak_mb
    return line


def train_events(work: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(work / "ev"), "--net", str(work / "net8.toml"),
            "--bins", "6", "--out", str(work / "out.pt"), "--epochs", "1", "--mode", "online",
            "--quiet", *extra]  # fmt: skip


def train_npz(work: Path, *extra: str) -> list[str]:
    """Train into the base run's m.pt: resumed, or replaced (runs are kept otherwise)."""
    keep = [] if "--resume" in extra else ["--overwrite"]
    return ["train", "--data", str(work / "npz"), "--net", str(work / "net3.toml"),
            "--out", str(work / "m.pt"), "--epochs", "2", "--batch-size", "4", "--device",
            "cpu", "--mode", "online", "--quiet", *keep, *extra]  # fmt: skip


def tiny_task(out: Path, *extra: str) -> list[str]:
    return ["train", "delay", "--n-train", "32", "--n-test", "8", "--epochs", "2", "--device",
            "cpu", "--out", str(out), *extra]  # fmt: skip


# -- events files that reach outside themselves or lie about their sizes -----------------


def _external_link(h, work):
    del h["events/0"]
    h["events/0"] = h5py.ExternalLink(str(work / "other.h5"), "/events/1")


def _soft_link(h, work):
    del h["events/0"]
    h["events/0"] = h5py.SoftLink("/events/1")


def _virtual(h, work):
    with h5py.File(work / "other.h5", "r") as o:
        source = o["events/1"]
        layout = h5py.VirtualLayout(shape=source.shape, dtype=source.dtype)
        layout[:] = h5py.VirtualSource(source)
    del h["events/0"]
    h.create_virtual_dataset("events/0", layout)


def _external_storage(h, work):
    dtype = h["events/0"].dtype
    del h["events/0"]
    h.create_dataset("events/0", (4,), dtype, external=[(str(work / "secret.txt"), 0, 4 * dtype.itemsize)])  # fmt: skip


def _huge_events(h, work):  # 4 G events declared, nothing stored
    dtype = h["events/0"].dtype
    del h["events/0"]
    h.create_dataset("events/0", (4 << 30,), dtype, chunks=(1 << 12,))


def _huge_labels(h, work):  # 8 G labels declared
    del h["labels"]
    h.create_dataset("labels", (8 << 30,), np.int64, chunks=(1 << 16,))


@pytest.mark.parametrize(
    "edit,needle",
    [
        (_external_link, "/events/0 is a link to another file (refused)"),
        (_soft_link, "/events/0 is a soft link"),
        (_virtual, "/events/0 is a virtual dataset (refused)"),
        (_external_storage, "/events/0 keeps its data outside the file (refused)"),
        (_huge_events, "/events/0 declares 4294967296 values"),
        (_huge_labels, "/labels declares 8589934592 values"),
    ],
)
def test_an_events_file_that_reaches_out_or_lies_is_refused_before_reading(work, edit, needle):
    shutil.copy(work / "ev" / "train.h5", work / "other.h5")  # another file's real samples
    (work / "secret.txt").write_bytes(b"SECRET-CONTENT-" * 8)
    with h5py.File(work / "ev" / "train.h5", "r+") as h:
        edit(h, work)
    before = snapshot(work)
    res = run("sg-lava", *train_events(work), env=SMALL)
    line = refused(res, work, before, needle)
    assert "SECRET" not in line
    if "declares" in needle:
        assert "more than the memory budget of 256.0 MiB" in line


def test_an_shd_file_with_a_link_to_another_file_is_refused_before_tonic_reads_it(work):
    write_hsd(work / "data", split="train", n=4)
    write_hsd(work / "data", split="test", n=2)
    with h5py.File(work / "data" / "SHD" / "shd_train.h5", "r+") as h:
        del h["labels"]
        h["labels"] = h5py.ExternalLink(str(work / "other.h5"), "/labels")
    before = snapshot(work)
    res = run("sg-lava", "convert", "tonic", "SHD", str(work / "data"), "--out", str(work / "conv"))  # fmt: skip
    refused(res, work, before, "/labels is a link to another file (refused)")
    assert not (work / "conv").exists()


# -- npz data that inflates, lies or holds what no network takes -------------------------


def zip_bomb(path: Path, shape=(10**6, 10**6, 3)) -> None:
    """train.npz of a few KB whose x declares ``shape`` float32 (12 TB) and inflates zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("x.npy", "w") as f:
            header = {"descr": "<f4", "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(f, header)
            f.write(b"\0" * (1 << 20))
        with z.open("y.npy", "w") as f:
            np.save(f, np.zeros(shape[0] if shape[0] < 100 else 4, np.int64))


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_zip_bomb_npz_is_refused_by_its_declared_size(work, command):
    split = "train" if command == "train" else "test"
    zip_bomb(work / "npz" / f"{split}.npz")
    assert (work / "npz" / f"{split}.npz").stat().st_size < 100_000
    before = snapshot(work)
    if command == "train":
        args = train_npz(work)
    else:
        args = ["evaluate", str(work / "m.pt"), str(work / "m.h5"), "--data", str(work / "npz")]
    res = run("sg-lava", *args, env=SMALL)
    refused(res, work, before, "x of shape (1000000, 1000000, 3) (float32) and a copy need about")


@pytest.mark.parametrize(
    "x,y,needle",
    [
        (np.zeros((4, 0, 3)), np.arange(4) % 2, "no time steps or no inputs"),
        (np.full((4, 6, 3), 1e30), np.arange(4) % 2, "inputs must lie in [-8388607, 8388607]"),
        (np.full((4, 6, 3), np.inf), np.arange(4) % 2, "NaN or infinite"),
        (np.zeros((4, 6, 3)), np.array([0, 1, 2, 1]), "labels must lie in [0, 2)"),
    ],
)
def test_npz_data_no_network_takes_is_refused_by_train(work, x, y, needle):
    np.savez(work / "npz" / "train.npz", x=x, y=y)
    before = snapshot(work)
    res = run("sg-lava", *train_npz(work))
    refused(res, work, before, needle)


@pytest.mark.parametrize("command", ["evaluate", "plan"])
def test_labels_beyond_the_model_classes_are_refused_by_evaluate_and_plan(work, command):
    np.savez(work / "npz" / "test.npz", x=np.zeros((3, 6, 3)), y=np.array([0, 1, 5]))
    before = snapshot(work)
    if command == "evaluate":
        args = ["evaluate", str(work / "m.pt"), str(work / "m.h5")]
    else:
        args = ["plan", str(work / "m.h5")]
    res = run("sg-lava", *args, "--data", str(work / "npz"))
    refused(res, work, before, "labels must lie in [0, 2), found 0..5")


@pytest.mark.parametrize("command", ["evaluate", "plan"])
def test_a_data_model_asked_for_its_task_says_to_use_data(work, command):
    before = snapshot(work)
    if command == "evaluate":
        args = ["evaluate", str(work / "m.pt"), str(work / "m.h5"), "--task", "data"]
    else:
        args = ["plan", str(work / "m.h5"), "--task"]
    res = run("sg-lava", *args)
    refused(res, work, before, "trained on a data folder")


# -- net.toml ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "toml,needle",
    [
        ("input_shape = " + "[" * 5000 + "1" + "]" * 5000 + "\n", "nested too deeply"),
        (NET_TOML.format(n_in=3).replace("8", "4194304"), "parameters need about 320.0 MiB"),
        (
            NET_TOML.format(n_in=3).replace("8", "1000000"),  # its parameters fit, its state not
            "training (ridge): batches of 8 samples (--batch-size) x 6 steps through 1000002 "
            "neurons of K up to 3 need about",
        ),
    ],
    ids=["nested-5000-deep", "4M-neurons", "1M-neurons-training-state"],
)
def test_a_net_toml_that_cannot_train_here_is_one_line_before_training(work, toml, needle):
    (work / "bad.toml").write_text(toml)
    before = snapshot(work)
    res = run("sg-lava", "train", "--data", str(work / "npz"), "--net", str(work / "bad.toml"),
              "--out", str(work / "x.pt"), env=SMALL)  # fmt: skip
    line = refused(res, work, before, needle)
    assert "MemoryError" not in line and "RecursionError" not in line


# -- sizes asked for on the command line ----------------------------------------------------


@pytest.mark.parametrize(
    "args,needle",
    [
        (["train", "delay", "--n-train", "1000000000"], "--n-train 1000000000 and --n-test"),
        (["train", "delay", "--n-train", "1000000000000"], "1000000001200 samples x 60 steps"),
        (["train", "delay", "--resolution", "1000000000"], "x 60000000000 steps"),
        (["plan", "NET", "--task", "delay", "--samples", "1000000000"], "--samples 1000000000"),
        (["plan", "NET", "--task", "delay", "--samples", "10" + "0" * 12], "--samples 10000"),
        (["verify", "MODEL", "NET", "--samples", "10" + "0" * 12], "verify: 10000000000000"),
    ],
)
def test_a_requested_size_beyond_the_budget_is_refused_by_arithmetic(work, args, needle):
    task = {"name": "delay", "seed": 0, "n_test": 8, "params": {"steps": 60}}
    save_model(dense_net([2, 4, 3]), work / "d.pt", task=task)  # a delay model and its file
    Pipeline(work / "d.pt").export(work / "d.h5", allow_saturation=True)
    args = [{"NET": str(work / "d.h5"), "MODEL": str(work / "d.pt")}.get(a, a) for a in args]
    if args[0] == "train":
        args += ["--out", str(work / "x.pt")]
    before = snapshot(work)
    res = run("sg-lava", *args)
    line = refused(res, work, before, needle)
    assert "memory budget" in line and "MemoryError" not in line


def test_bins_beyond_the_budget_are_refused_before_binning(work):
    before = snapshot(work)
    res = run("sg-lava", *train_events(work, "--bins", "10000000"))
    refused(
        res, work, before, "--bins 10000000: batches of 256 samples x 10000000 steps x 8 inputs"
    )


# -- arguments: one line, exit 2, before torch loads ---------------------------------------

ARGUMENT_ERRORS = [
    (["train", "delay", "--out", "m.pt", "--workers", "-1"], "--workers: must be at least 0"),
    (["train", "delay", "--out", "m.pt", "--workers", "1000"], "the cores of this machine"),
    (["verify", "m.pt", "n.h5", "--workers", "1000"], "the cores of this machine"),
    (["verify", "m.pt", "n.h5", "--workers", "0"], "--workers: must be at least 1"),
    (["train", "delay", "--out", "m.pt", "--n-train", "-5"], "--n-train: must be at least 1"),
    (["train", "delay", "--out", "m.pt", "--n-train", "0"], "--n-train: must be at least 1"),
    (["train", "delay", "--out", "m.pt", "--n-test", "0"], "--n-test: must be at least 1"),
    (["train", "delay", "--out", "m.pt", "--lr", "nan"], "--lr: must be a finite number above 0"),
    (["train", "delay", "--out", "m.pt", "--lr", "inf"], "--lr: must be a finite number above 0"),
    (["train", "delay", "--out", "m.pt", "--lr", "-0.1"], "--lr: must be a finite number"),
    (["train", "--data", "d", "--net", "n", "--out", "m.pt", "--bins", "0"], "--bins: must be"),
    (["plan", "n.h5", "--seed", "-1"], "--seed: must be at least 0"),
    (["plan", "n.h5", "--samples", "0"], "--samples: must be at least 1"),
    (["convert", "tonic", "SHD", "d", "--out", "o", "--max", "-1"], "--max: must be at least 1"),
    (["convert", "tonic", "SHD", "d", "--out", "o", "--max", "0"], "--max: must be at least 1"),
]
COMBINATION_ERRORS = [
    (
        ["train", "--data", "d", "--net", "n", "--out", "m.pt", "--n-train", "5"],
        "--n-train is for built-in tasks",
    ),  # fmt: skip
    (
        ["train", "--data", "d", "--net", "n", "--out", "m.pt", "--n-test", "5"],
        "--n-test is for built-in tasks",
    ),  # fmt: skip
    (["train", "delay", "--out", "m.pt", "--bins", "5"], "--bins is for event data"),
    (
        ["train", "--data", "d", "--net", "n.toml", "--out", "n.toml"],
        "one of this command's inputs",
    ),  # fmt: skip
]


@pytest.mark.parametrize("args,needle", ARGUMENT_ERRORS + COMBINATION_ERRORS)
def test_option_errors_are_one_line(work, args, needle):
    before = snapshot(work)
    code = 2 if (args, needle) in ARGUMENT_ERRORS else 1
    res = run("sg-lava", *args, cwd=work)
    refused(res, work, before, needle, code=code)
    assert not (work / "o").exists()


def test_option_errors_come_before_torch_loads(fresh_python):
    """Timing-free: after each error, torch is not in ``sys.modules``."""
    code = (
        "import sys\nfrom sg_lava.cli import main\n"
        f"for argv in {[a for a, _ in ARGUMENT_ERRORS + COMBINATION_ERRORS]!r}:\n"
        "    try:\n        code = main(argv)\n    except SystemExit as e:\n        code = e.code\n"
        "    assert code in (1, 2) and 'torch' not in sys.modules, (argv, code)\n"
        "print('ok', file=sys.stderr)\n"
    )
    res = fresh_python(code)
    assert res.stderr.strip().splitlines()[-1] == "ok", res.stderr[-3000:]


# -- checkpoints: every field checked before use -------------------------------------------


def _set(*keys, value):
    def edit(state):
        target = state
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value(target[keys[-1]]) if callable(value) else value

    return edit


def _drop(key):
    return lambda state: state.pop(key)


@pytest.mark.parametrize(
    "edit,needle",
    [
        (_set("history", value="abc"), "'history' must be a list of 2 per-epoch records"),
        (_set("history", value=[{"epoch": 1, "loss": 0.5}, "x"]), "'history'[1] must be a table"),
        (_set("history", 1, "loss", value=float("nan")), "'history'[1]['loss'] must be a finite"),
        (_drop("optimizer"), "missing 'optimizer'"),
        (_set("optimizer", value=[1, 2]), "'optimizer' must be a table"),
        (
            _set("optimizer", "state", 0, "exp_avg", value=torch.zeros(1)),
            "['exp_avg'] has shape (1,)",
        ),  # fmt: skip
        (
            _set("rng", "torch", value=torch.zeros(7, dtype=torch.uint8)),
            "'rng'['torch'] has shape (7,)",
        ),  # fmt: skip
        (_set("rng", "numpy", "pos", value=10**6), "not a Mersenne Twister state"),
        (_set("rng", "python", value="x"), "'rng'['python'] must be a table"),
        (
            _set("state_dict", "layers.0.weight", value=torch.zeros(99)),
            "['layers.0.weight'] has shape (99,)",
        ),  # fmt: skip
        (
            _set("state_dict", "layers.0.weight", value=lambda w: w * float("nan")),
            "holds NaN or inf",
        ),  # fmt: skip
        (_set("scheduler", "T_max", value=7), "plans another number of batches"),
        (
            _set("scheduler", "last_epoch", value="x"),
            "['last_epoch'] must be a finite whole number",
        ),  # fmt: skip
        (_set("best", value={"epoch": 9, "accuracy": 0.5}), "'best' names epoch 9"),
        (_set("settings", value="x"), "'settings' must be a table"),
        (_set("epoch", value=True), "'epoch' must be a whole number"),
    ],
)
def test_a_bad_checkpoint_field_is_refused_before_resuming(work, edit, needle):
    ckpt = work / "m.ckpt.pt"
    state = torch.load(ckpt, weights_only=True)
    edit(state)
    torch.save(state, ckpt)
    before = snapshot(work)
    res = run("sg-lava", *train_npz(work, "--resume"))
    line = refused(res, work, before, needle)
    assert "cannot resume" in line


def test_the_unchanged_checkpoint_resumes(work):
    res = run("sg-lava", *train_npz(work, "--resume"))
    assert res.code == 0, res.err
    assert "accuracy:" in res.out


# -- failures leave nothing behind ----------------------------------------------------------


def test_a_diverging_training_leaves_no_file(work):
    before = snapshot(work)
    res = run("sg-lava", *tiny_task(work / "d.pt", "--lr", "1e30"))
    refused(res, work, before, "training diverged in epoch 2")
    assert "epoch 1/2" in res.out  # the first epoch was saved, and then removed


@pytest.mark.parametrize("sibling", ["ckpt.pt", "metrics.jsonl", "curve.png", "best.pt"])
def test_every_output_is_checked_before_the_first_epoch(work, sibling):
    (work / f"d.{sibling}").mkdir()
    before = snapshot(work)
    res = run("sg-lava", *tiny_task(work / "d.pt"))
    refused(res, work, before, f"d.{sibling}: it exists and is a folder")
    assert "epoch" not in res.out


def test_a_second_training_into_the_same_out_is_refused(work):
    with output_lock(work / "d.pt"):
        before = snapshot(work)
        res = run("sg-lava", *tiny_task(work / "d.pt"))
        refused(res, work, before, "is being written by another run")
    assert not (work / ".d.pt.lock").exists()


@pytest.mark.slow
def test_two_trainings_started_together_do_not_interleave(work):
    from tests.reliability_helpers import start

    long = ("--n-train", "1024", "--epochs", "4", "--quiet")
    procs = [start("sg-lava", *tiny_task(work / "d.pt", *long)) for _ in range(2)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 1], results
    assert "is being written by another run" in [e for c, e in results if c == 1][0]
    assert not list(work.glob(".d.pt*"))


def test_a_killed_runs_temporary_files_are_removed_by_the_next_run(work):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = work / f".d.ckpt.pt.{dead.pid}.0badc0de.tmp"
    live = work / f".d.ckpt.pt.{os.getpid()}.0badc0de.tmp"  # a running writer: kept
    stale.write_bytes(b"half")
    live.write_bytes(b"half")
    res = run("sg-lava", *tiny_task(work / "d.pt", "--quiet"))
    assert res.code == 0, res.err
    assert not stale.exists() and live.exists()
    assert not (work / ".d.pt.lock").exists()


def _small_files() -> None:
    """The disk fills at 16 KB: writes beyond fail with EFBIG (SIGXFSZ ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 10, 16 << 10))


def test_a_disk_that_fills_during_the_first_checkpoint_leaves_no_file(work):
    for name in ("m.pt", "m.ckpt.pt", "m.best.pt", "m.metrics.jsonl", "m.curve.png"):
        (work / name).unlink()
    before = snapshot(work)
    res = run("sg-lava", *train_npz(work), preexec=_small_files)
    refused(res, work, before, "m.ckpt.pt: file too large")  # m.best.pt was written first


# -- convert --------------------------------------------------------------------------------


def test_convert_onto_an_existing_file_is_refused(work):
    (work / "file").write_text("keep")
    before = snapshot(work)
    res = run("sg-lava", "convert", "tonic", "SHD", str(work / "data"), "--out", str(work / "file"))  # fmt: skip
    refused(res, work, before, "exists and is not a folder")


def test_convert_onto_a_read_only_folder_is_refused(work):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    write_hsd(work / "data", split="train", n=4)
    write_hsd(work / "data", split="test", n=2)
    (work / "ro").mkdir(mode=0o555)
    before = snapshot(work)
    res = run("sg-lava", "convert", "tonic", "SHD", str(work / "data"), "--out", str(work / "ro" / "o"))  # fmt: skip
    refused(res, work, before, "permission denied")


def test_convert_into_a_folder_it_cannot_create_is_one_line(work, monkeypatch, capsys):
    """The read-only case where the tests run as root: ``mkdir`` refused as it would be."""
    from sg_lava.cli import main

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    before = snapshot(work)
    assert main(["convert", "tonic", "SHD", str(work / "data"), "--out", str(work / "o")]) == 1
    err = capsys.readouterr().err
    assert err == f"sg-lava: error: cannot create the folder {work / 'o'}: permission denied\n"
    assert snapshot(work) == before


def test_a_failed_convert_removes_its_split_and_the_folders_it_made(work):
    write_hsd(work / "data", split="train", n=4)  # no test split: the second one fails
    before = snapshot(work)
    out = work / "new" / "conv"
    res = run("sg-lava", "convert", "tonic", "SHD", str(work / "data"), "--out", str(out))
    refused(res, work, before, "SHD test data not found")
    assert not (work / "new").exists()


# -- signals, terminals, torchrun -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"),
                                           (signal.SIGTERM, 143, "terminated")])  # fmt: skip
def test_a_signal_to_the_group_ends_training_with_dataloader_workers_cleanly(work, sig, code, word):
    import time

    from tests.cli.test_signals import group
    from tests.reliability_helpers import start

    args = train_events(work, "--workers", "2", "--epochs", "100000")
    p = start("sg-lava", *[a for a in args if a != "--quiet"])
    seen = ""
    while "epoch 2/" not in seen:  # a checkpoint exists, the workers are running
        line = p.stdout.readline()
        assert line, p.stderr.read()[-3000:]
        seen += line
    t0 = time.time()
    os.killpg(p.pid, sig)
    _, err = p.communicate(timeout=60)
    assert time.time() - t0 < 5
    assert p.returncode == code
    line = one_line_error(type("R", (), {"err": err})())
    assert line.startswith(f"sg-lava: {word}; the last complete epoch is in"), line
    time.sleep(0.5)
    assert group(p.pid) == []  # no DataLoader worker left


def test_a_terminal_of_zero_columns_still_shows_the_epochs(work):
    import fcntl
    import pty
    import struct
    import termios

    from tests.reliability_helpers import command

    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal that reports 0 columns
        os.environ["OMP_NUM_THREADS"] = "1"
        os.execv(sys.executable, command("sg-lava", *tiny_task(work / "d.pt")))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 0, 0, 0))
    out = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out[-2000:]
    assert b"epoch 1/2: loss" in out and b"epoch 2/2: loss" in out, out[-2000:]


@pytest.mark.slow
def test_under_torchrun_the_failing_ranks_line_is_the_root_cause(work):
    from tests.training.test_distributed import free_port

    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_addr", "127.0.0.1", "--master_port", str(free_port())]  # fmt: skip
    (work / "afile").write_text("not a folder")
    res = subprocess.run(
        [*launcher, "-m", "sg_lava", *tiny_task(work / "afile" / "d.pt")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 1
    ours = "sg-lava: error: cannot make folder"
    assert ours in res.stderr
    root_cause = res.stderr.split("Root Cause")[-1]
    assert f"traceback : {ours}" in root_cause, res.stderr[-3000:]
    assert "internal error" not in res.stderr and "sg-lava: terminated" not in res.stderr


def test_a_memory_error_no_check_foresaw_is_one_line_not_an_internal_error(capsys):
    from sg_lava.cli.base import guarded

    def allocate() -> int:
        raise MemoryError

    assert guarded("sg-lava", allocate) == 1
    assert capsys.readouterr().err == (
        "sg-lava: error: out of memory (MemoryError); try smaller sizes\n"
    )


@pytest.mark.parametrize("value,budget", [("256M", 256 << 20), ("1.5G", 3 << 29), ("4096", 4096)])
def test_the_memory_budget_is_set_by_the_environment(monkeypatch, value, budget):
    from sg_lava.errors import UserError
    from sg_lava.limits import memory_budget

    monkeypatch.setenv("SG_LAVA_MEMORY_BUDGET", value)
    assert memory_budget() == budget
    monkeypatch.setenv("SG_LAVA_MEMORY_BUDGET", "lots")
    with pytest.raises(UserError, match="'lots' is not a size in bytes"):
        memory_budget()


def test_a_signal_python_could_not_raise_is_raised_at_the_next_step(capsys):
    """Where a handler's exception is only 'ignored' (a fork hook, a finaliser), the
    signal is kept for raise_pending, without the printout; the session ends it."""
    from sg_lava.interrupts import Terminated, raise_pending, stop_on_signals

    class Finaliser:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGTERM)  # the handler runs in here, and cannot raise

    with stop_on_signals():
        Finaliser()
        assert capsys.readouterr().err == ""
        with pytest.raises(Terminated):
            raise_pending()
        raise_pending()  # raised once
        Finaliser()
    raise_pending()  # the session that caught it is over


def test_a_worker_that_fails_on_a_sample_is_not_left_running(tmp_path):
    """The error path: torch's own shutdown would run at garbage collection and fall back
    on SIGTERM, which the workers ignore; stop_workers ends them at once."""
    import multiprocessing

    from sg_lava.data.userdata import events_split, write_events
    from sg_lava.errors import UserError

    ev = np.zeros(2, [("t", np.int64), ("x", np.int16)])
    ev["x"] = [0, 5]  # beyond the sensor: the worker raises
    write_events(tmp_path / "test.h5", [(ev, 0)] * 4, (3, 1, 1))
    data = events_split(tmp_path, "test", bins=2, n_classes=2, input_shape=(3,), workers=2)
    with pytest.raises(UserError, match="x must be integers in"):
        list(data.batches(1))
    assert multiprocessing.active_children() == []


def test_workers_of_a_loader_left_open_do_not_hang_the_exit(tmp_path):
    """multiprocessing ends daemonic children at exit with SIGTERM and waits: the guarded
    workers ignore it, so they are killed first."""
    write_user_events(tmp_path, n_train=8, n_test=2)
    code = (
        "import multiprocessing\nfrom sg_lava.data.userdata import events_split\n"
        f"data = events_split({str(tmp_path)!r}, 'train', bins=4, n_classes=2, workers=2)\n"
        "kept = data.batches(1)\nnext(kept)\n"
        "assert len(multiprocessing.active_children()) == 2\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stderr == "", res.stderr[-2000:]
