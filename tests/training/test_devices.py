"""--device: one parser, clear errors, and training on CUDA where there is one."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from sg_lava.data.tasks import delay_detection
from sg_lava.devices import resolve_device
from sg_lava.errors import UserError
from sg_lava.training.config import TrainConfig
from sg_lava.training.loop import float_accuracy, train
from tests.helpers import dense_net

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device on this machine")
no_cuda = pytest.mark.skipif(CUDA, reason="checks the error of a machine without CUDA")


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if CUDA else "cpu")
    assert resolve_device(None) == resolve_device("auto")


@pytest.mark.parametrize("spec", ["gpu", "cpu:1", "cuda:x", "auto:0", ""])
def test_unknown_devices_are_one_clear_error(spec):
    if spec == "":
        assert resolve_device(spec) == resolve_device("auto")
        return
    with pytest.raises(UserError, match="unknown device"):
        resolve_device(spec)


@no_cuda
@pytest.mark.parametrize("spec", ["cuda", "cuda:0"])
def test_cuda_without_cuda_says_so(spec):
    with pytest.raises(UserError, match="CUDA is not available"):
        resolve_device(spec)


@no_cuda
def test_train_on_missing_cuda_is_one_line_on_stderr(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "sg_lava", "train", "delay", "--device", "cuda", "--out",
         str(tmp_path / "m.pt")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "sg-lava: error: device 'cuda' asked for, but CUDA is not available here; use cpu"
    ]
    assert not (tmp_path / "m.pt").exists()


@needs_cuda
def test_cuda_does_not_exist_beyond_the_device_count():
    with pytest.raises(UserError, match="does not exist"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


@needs_cuda
@pytest.mark.parametrize("mode", ["online", "bptt"])
def test_training_on_cuda_matches_the_cpu(mode):
    data = delay_detection(64, seed=3, steps=30, delay=6, margin=3, max_delay=12)
    results = {}
    for device in ("cpu", "cuda"):
        net = dense_net([2, 8, 3], K=3, seed=0)
        cfg = TrainConfig(mode=mode, epochs=2, batch_size=32, lr=0.01, device=device)
        hist = train(net, data, cfg, progress=False)
        assert next(net.parameters()).device.type == device
        results[device] = (hist[-1]["loss"], float_accuracy(net, data), net.cpu().state_dict())
    (la, aa, sa), (lb, ab, sb) = results["cpu"], results["cuda"]
    assert lb == pytest.approx(la, rel=1e-3)
    assert abs(ab - aa) <= 2 / 64  # at most two samples flip at a tie
    for k in sa:
        torch.testing.assert_close(sb[k], sa[k], rtol=1e-3, atol=1e-4)
