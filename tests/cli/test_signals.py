"""Ctrl-C and SIGTERM to the process group, and SIGKILL of the parent, during a Lava run:
one line, exit 130/143 within 5 s, no Lava process and no shared memory left behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from sg_lava.errors import UserError
from sg_lava.export import hdf5
from sg_lava.files import atomic_write
from sg_lava.interrupts import Terminated
from sg_lava.reference.quantize import quantize_network
from tests.helpers import dense_net
from tests.reliability_helpers import one_line_error, start

pytestmark = pytest.mark.slow


def group(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            out.append(int(name))
    return out


def orphan_segments(before: set[str]) -> set[str]:
    """New /dev/shm segments that no living process maps (others' live runs are not ours)."""
    new = {n for n in os.listdir("/dev/shm") if n.startswith("psm_")} - before
    mapped = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                mapped |= {n for n in new if n in Path(f"/proc/{name}/maps").read_text()}
            except OSError:
                pass
    return new - mapped


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("sig")
    q, _ = quantize_network(dense_net([3, 5, 2]))
    hdf5.write(q, d / "net.h5")
    np.save(d / "x.npy", (np.random.default_rng(0).random((4, 5000, 3)) < 0.3).astype(float))
    return d


def running(*args: str, processes: int = 8):
    """``sg-lava ARGS`` in its own session, returned once ``processes`` of its group run
    (one Lava runtime is about eight)."""
    p = start("sg-lava", *args)
    t0 = time.time()
    while len(group(p.pid)) < processes and time.time() - t0 < 120:
        time.sleep(0.1)
    assert len(group(p.pid)) >= processes, p.communicate()[1][-2000:]
    time.sleep(0.5)
    return p


def started(d: Path):
    """``sg-lava run`` in its own session, returned once Lava's processes are running."""
    return running("run", str(d / "net.h5"), "--input", str(d / "x.npy"),
                   "--out", str(d / "out.npz"))  # fmt: skip


def signal_group(p, sig: int, code: int, word: str) -> None:
    """Send ``sig`` to the whole group: the command ends within 5 s, exit ``code``, one line."""
    t0 = time.time()
    os.killpg(p.pid, sig)
    _, err = p.communicate(timeout=30)
    assert time.time() - t0 < 5
    assert p.returncode == code
    assert word in one_line_error(type("R", (), {"err": err})())
    time.sleep(0.5)


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"),
                                           (signal.SIGTERM, 143, "terminated")])  # fmt: skip
def test_a_signal_to_the_group_stops_run_cleanly(long_run, sig, code, word):
    before = set(os.listdir("/dev/shm"))
    p = started(long_run)
    signal_group(p, sig, code, word)
    assert group(p.pid) == [] or all(
        b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in group(p.pid)
    )
    assert not orphan_segments(before)
    assert not (long_run / "out.npz").exists()
    assert not list(long_run.glob(".*.tmp"))


def test_children_exit_when_the_parent_is_killed(long_run):
    p = started(long_run)
    os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=30)
    t0 = time.time()
    while group(p.pid) and time.time() - t0 < 5:
        time.sleep(0.1)
    assert group(p.pid) == []


def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path):
    dest = tmp_path / "net.h5"
    dest.write_bytes(b"old")

    def interrupted(f):
        f.write(b"half")
        raise Terminated(signal.SIGTERM)

    with pytest.raises(Terminated):
        atomic_write(dest, interrupted)
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["net.h5"]
    with pytest.raises(UserError):  # a file where a folder would have to be made
        atomic_write(tmp_path / "net.h5" / "x", lambda f: None)


@pytest.fixture(scope="module")
def verify_files(tmp_path_factory):
    from sg_lava.deploy.pipeline import Pipeline
    from sg_lava.model.modelfile import save_model

    d = tmp_path_factory.mktemp("sigverify")
    save_model(dense_net([3, 5, 2]), d / "model.pt")
    Pipeline(d / "model.pt").export(d / "net.h5", allow_saturation=True)
    np.save(d / "x.npy", (np.random.default_rng(0).random((4, 5000, 3)) < 0.3).astype(float))
    return d


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"),
                                           (signal.SIGTERM, 143, "terminated")])  # fmt: skip
def test_a_signal_to_the_group_stops_verify_with_two_workers(verify_files, sig, code, word):
    """Two shard processes, each with its own Lava runtime: all stop, one line, nothing left."""
    d = verify_files
    before = set(os.listdir("/dev/shm"))
    p = running(
        "verify",
        str(d / "model.pt"),
        str(d / "net.h5"),
        "--input",
        str(d / "x.npy"),
        "--workers",
        "2",
        processes=16,
    )  # fmt: skip  (both runtimes up)
    signal_group(p, sig, code, word)
    assert group(p.pid) == []
    assert not orphan_segments(before)
