"""The structure the code promises: one parameter list, a torch-free Lava half."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import h5py
import numpy as np
import pytest

from sg_lava.export import hdf5
from sg_lava.export.neuron import GammaParams
from sg_lava.reference.quantize import quantize_network
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
    with np.load(out) as arrays:  # the input padded by the latency of 2 synapses
        assert arrays["output"].shape == (2, 12 + 2, 2) and arrays["predictions"].shape == (2,)


# --- the wings and their imports ---------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"sg_lava": ROOT / "sg_lava", "sg_lava.export": ROOT / "export",
            "sg_lava.processes": ROOT / "processes"}  # fmt: skip
INFRA = {"errors", "files", "interrupts", "devices", "limits", "h5files", "threads", "_lava_compat"}
# what each wing may import (itself included); docs/architecture.md draws the same
ALLOWED = {
    "infra": {"infra"},
    "export": {"infra", "export"},
    "processes": {"infra", "export", "processes"},
    "model": {"infra", "export", "model"},
    "data": {"infra", "export", "data"},
    "training": {"infra", "export", "model", "data", "training"},
    "reference": {"infra", "export", "model", "reference"},
    "deploy": {"infra", "export", "processes", "model", "data", "training", "reference", "deploy"},
    "cli": {
        "infra",
        "export",
        "processes",
        "model",
        "data",
        "training",
        "reference",
        "deploy",
        "cli",
    },
    "api": {"infra", "export", "model", "data", "training", "reference", "deploy", "api"},
    "entry": {"cli"},
}


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    out = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


def wing(module: str) -> str:
    """The wing a module belongs to."""
    parts = module.split(".")
    if parts[:2] in (["sg_lava", "export"], ["sg_lava", "processes"]):
        return parts[1]
    if len(parts) == 1 or parts[1] == "api":
        return "api"
    if parts[1] in ("__main__", "convert"):
        return "entry"
    if parts[1] in INFRA:
        return "infra"
    return parts[1]


def imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules a file imports when it runs, at module level or inside
    functions (``if TYPE_CHECKING:`` blocks are for type checkers only)."""
    import ast

    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for n in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:  # a submodule, or a name of the module
                sub = f"{node.module}.{a.name}"
                names.append(sub if sub in modules else node.module)
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("sg_lava") and name != "sg_lava":  # the root: compat hooks
                found.add(name)
    return found


def test_no_wing_imports_a_wing_above_it():
    modules = module_files()
    assert {wing(m) for m in modules} == set(ALLOWED), sorted({wing(m) for m in modules})
    bad = [
        f"{m} ({wing(m)}) imports {dep} ({wing(dep)})"
        for m, path in sorted(modules.items())
        for dep in sorted(imports(path, modules))
        if wing(dep) not in ALLOWED[wing(m)]
    ]
    assert not bad, "\n".join(bad)


def test_the_import_graph_has_no_circle():
    import networkx as nx

    modules = module_files()
    graph = nx.DiGraph()
    for m, path in modules.items():
        graph.add_edges_from((m, dep) for dep in imports(path, modules) if dep != m)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, cycles[:3]


def test_library_modules_never_import_the_cli():
    modules = module_files()
    bad = [
        m
        for m, path in modules.items()
        if wing(m) not in ("cli", "entry") and any(wing(d) == "cli" for d in imports(path, modules))
    ]
    assert not bad, bad
