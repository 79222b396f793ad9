"""Verification over several Lava runtimes: merged in order, divergences named globally."""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import replace

import numpy as np
import pytest

from sg_lava.deploy.verify import compare
from sg_lava.errors import UserError
from sg_lava.processes import runner
from sg_lava.reference.fixed import FixedNetwork
from sg_lava.reference.quantize import quantize_network
from tests.helpers import dense_net


def network_and_inputs():
    """4 samples; channel 0 is active only in samples 2 and 3 (the second shard of two)."""
    net = dense_net([3, 6, 2], K=2, theta0=0.05)
    rng = np.random.default_rng(0)
    x = (rng.random((4, 12, 3)) < 0.4).astype(np.int64)
    x[:, :, 0] = 0
    x[2:, 2, 0] = 1  # the only input on channel 0
    q, _ = quantize_network(net)
    return q, x


@pytest.mark.slow
def test_two_workers_equal_one_runtime_and_a_divergence_in_shard_two_is_named():
    q, x = network_and_inputs()
    ref = FixedNetwork(q).run(x, timing="lava")
    reference = [s.numpy() for s in (*ref[1], ref[0])]
    lava = runner.run_samples(q, x, workers=2)
    _, first = compare(q, reference, lava)
    assert first is None
    assert not mp.active_children()
    # corrupt the weights from input channel 0: only samples 2 and 3 can see it
    w = q.layers[0].weight.copy()
    w[:, 0] += 100
    bad = replace(q, layers=[replace(q.layers[0], weight=w), *q.layers[1:]])
    _, first = compare(q, reference, runner.run_samples(bad, x, workers=2))
    assert first is not None and first.sample == 2 and first.layer == 0 and first.step == 4
    assert not mp.active_children()


class Failing(runner.LavaNetwork):
    def __init__(self, qnet, inputs, backend="fixed"):
        if inputs[0, 2, 0]:  # the second shard
            raise RuntimeError("boom in the second shard")
        super().__init__(qnet, inputs, backend)


@pytest.mark.slow
def test_a_failing_shard_stops_every_runtime_and_surfaces(monkeypatch):
    q, x = network_and_inputs()
    monkeypatch.setattr(runner, "LavaNetwork", Failing)
    with pytest.raises(UserError, match=r"shard 2/2 \(samples 2\.\.3\) failed: .*boom"):
        runner.run_samples(q, x, workers=2)
    assert not mp.active_children()


def test_workers_must_be_positive():
    q, x = network_and_inputs()
    with pytest.raises(UserError, match="at least 1"):
        runner.run_samples(q, x, workers=0)


SHARDED_RUN = """
import numpy as np
from sg_lava.processes.runner import run_samples
from sg_lava.reference.quantize import quantize_network
from tests.helpers import dense_net
q, _ = quantize_network(dense_net([3, 6, 2], K=2))
x = (np.random.default_rng(0).random((400, 60, 3)) < 0.3).astype(np.int64)
print("running", flush=True)
try:
    run_samples(q, x, workers=2)
except KeyboardInterrupt:
    import multiprocessing as mp
    print("stopped; children:", len(mp.active_children()), flush=True)
"""


@pytest.mark.slow
def test_sigterm_stops_every_runtime_and_leaves_no_process(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", SHARDED_RUN],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        start_new_session=True,  # its own process group: every Lava process it starts
    )
    assert proc.stdout.readline().strip() == "running"
    time.sleep(12)  # workers and their Lava runtimes are up
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert "stopped; children: 0" in out
    time.sleep(2)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # no process of that group is left


def test_default_workers_is_one_runtime_per_two_cores(monkeypatch):
    import sg_lava.processes.runner as runner

    for cores, want in [(None, 1), (1, 1), (2, 1), (3, 1), (16, 8)]:
        monkeypatch.setattr(runner.os, "cpu_count", lambda c=cores: c)
        assert runner.default_workers() == want
