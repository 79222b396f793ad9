"""The structure the code promises: one parameter list, a torch-free Lava half."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import h5py
import numpy as np
import pytest

from sg_lava.export import hdf5
from sg_lava.export.neuron import GammaParams
from sg_lava.quantize import quantize_network
from tests.helpers import dense_net, spread_copies

BLOCK_TORCH = "import sys; sys.modules['torch'] = None; "  # any `import torch` now fails


def test_every_neuron_parameter_reaches_the_file_and_the_lava_process(tmp_path):
    """Writer and Process derive from GammaParams: a field added there appears in both
    (optional ones: in the file where present, as zeros in the Process where absent)."""
    from sg_lava.processes.builder import neuron_params
    from sg_lava.processes.gamma_neuron.models import PyGammaNeuronModelFixed
    from sg_lava.processes.gamma_neuron.process import GammaNeuron

    names = [f.name for f in fields(GammaParams)]
    seen: set[str] = set()
    for net in (dense_net([3, 4, 2]), spread_copies(dense_net([3, 4, 2], per_synapse=True))):
        q, _ = quantize_network(net)
        path = tmp_path / "net.h5"
        hdf5.write(q, path)
        with h5py.File(path) as h:
            layer = h["layer/1"]
            seen |= set(layer["neuron"]) | set(layer)
        params = neuron_params(q.layers[0], q)
        params.pop("neuron_proc"), params.pop("num_message_bits")
        K = q.layers[0].K if q.layers[0].per_synapse else 1
        proc = GammaNeuron(shape=(4 * K,), **params)
        for name in names:
            init = np.asarray(getattr(proc, name).init).reshape(-1)
            value = getattr(q.layers[0].neuron, name)
            if value is None:
                assert not init.any(), name
            else:
                assert np.array_equal(init[: np.size(value)], np.ravel(value)), name
            assert hasattr(PyGammaNeuronModelFixed, name), name
        assert hdf5.read(path).layers[0].neuron == q.layers[0].neuron
    assert set(names) <= seen


@pytest.mark.parametrize(
    "module",
    [
        "sg_lava.export.hdf5",
        "sg_lava.export.summary",
        "sg_lava.processes.builder",
        "sg_lava.processes.runner",
        "sg_lava.processes.gamma_neuron.models",
        "sg_lava.cli",
    ],
)
def test_the_lava_half_imports_without_torch(module):
    res = subprocess.run(
        [sys.executable, "-c", f"{BLOCK_TORCH}import {module}"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-2000:]


def test_sg_lava_run_works_with_torch_blocked(tmp_path):
    q, _ = quantize_network(dense_net([3, 5, 2]))
    net, x, out = tmp_path / "net.h5", tmp_path / "x.npy", tmp_path / "out.npz"
    hdf5.write(q, net)
    np.save(x, (np.random.default_rng(0).random((2, 12, 3)) < 0.3).astype(float))
    code = (
        f"{BLOCK_TORCH}from sg_lava.cli import main; "
        f"sys.exit(main(['run', {str(net)!r}, '--input', {str(x)!r}, '--out', {str(out)!r}]))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    with np.load(out) as arrays:
        assert arrays["output"].shape == (2, 12, 2)
