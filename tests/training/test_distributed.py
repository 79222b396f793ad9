"""torchrun: two CPU processes (gloo, DDP) train the model one process trains."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import torch

from sg_lava.model.modelfile import load_model
from sg_lava.training.distributed import Dist


def test_shards_cover_a_global_batch_once():
    for n in (1, 5, 64):
        parts = [Dist(r, 3).shard(n) for r in range(3)]
        assert [i for p in parts for i in range(n)[p]] == list(range(n))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TRAIN = ["-m", "sg_lava", "train", "delay", "--epochs", "2", "--n-train", "96", "--n-test"]
TRAIN += ["32", "--device", "cpu", "--quiet"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "extra"),
    [("online", []), ("bptt", []), ("online", ["--spike-cost", "1"])],
    ids=["online", "bptt", "online-spike-cost"],
)
def test_two_processes_train_the_model_of_one(tmp_path, mode, extra):
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    single = subprocess.run(
        [sys.executable, *TRAIN, *extra, "--mode", mode, "--out", str(one)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    launcher += ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    res = subprocess.run(
        [*launcher, *TRAIN, *extra, "--mode", mode, "--out", str(two)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # the ranks' own errors come first; the launcher's summary last
    assert res.returncode == 0, res.stderr[:4000] + "\n...\n" + res.stderr[-1500:]
    assert res.stdout.count("model: ") == 1  # only rank 0 reports
    a, _ = load_model(one)
    b, _ = load_model(two)
    for k, v in a.state_dict().items():
        torch.testing.assert_close(b.state_dict()[k], v, rtol=1e-4, atol=1e-5, msg=k)


@pytest.mark.parametrize("fails", [False, True], ids=["normal", "error"])
def test_train_waits_for_every_rank_before_leaving_unless_it_failed(monkeypatch, tmp_path, fails):
    """After a normal run every rank meets at a barrier before tearing down (rank 0 may
    still be evaluating); after an error none waits, or it would hang on the failed rank."""
    import torch.distributed as td

    from sg_lava import cli
    from sg_lava.cli import train as train_command
    from sg_lava.training import distributed

    calls: list[str] = []
    monkeypatch.setattr(td, "is_initialized", lambda: True)
    monkeypatch.setattr(td, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(td, "destroy_process_group", lambda: calls.append("destroy"))
    monkeypatch.setattr(distributed, "init_from_env", lambda device: (distributed.Dist(), device))

    def train(*args):
        if fails:
            raise RuntimeError("a rank failed")
        return None  # a rank other than 0

    monkeypatch.setattr(train_command, "_train", train)
    out = str(tmp_path / "model.pt")
    args = cli.build_parser().parse_args(["train", "delay", "--device", "cpu", "--out", out])
    if fails:
        with pytest.raises(RuntimeError):
            train_command.run(args)
        assert calls == ["destroy"]
    else:
        assert train_command.run(args) == 0
        assert calls == ["barrier", "destroy"]
