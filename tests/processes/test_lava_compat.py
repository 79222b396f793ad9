"""The compat module: each of its three fixes, and that it touches nothing else."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from sg_lava import _lava_compat as compat


def test_rewrite_turns_instance_defaults_into_factories():
    src = "@dataclass\nclass A:\n    x: ByteEncoder = ByteEncoder()\n    n: int = 0\n"
    out = compat.rewrite_var_model(src)
    assert "default_factory=ByteEncoder" in out
    assert "n: int = 0" in out
    ns: dict = {}
    exec(
        "from dataclasses import dataclass\n@dataclass\nclass ByteEncoder:\n    base: int = 0\n"
        + out,
        ns,
    )
    a, b = ns["A"](), ns["A"]()
    assert a.x == ns["ByteEncoder"]() and a.x is not b.x


def test_unfixed_source_fails_on_this_python_and_fixed_one_does_not():
    src = (
        "from dataclasses import dataclass\n@dataclass\nclass B:\n    base: int = 0\n"
        "@dataclass\nclass A:\n    x: ByteEncoder = ByteEncoder()\n"
    )
    src = src.replace("class B", "class ByteEncoder")
    if compat.needs_dataclass_fix():
        with pytest.raises(ValueError, match="mutable default"):
            exec(src, {})
    exec(compat.rewrite_var_model(src), {})


def test_var_model_imports_with_independent_defaults():
    from lava.magma.compiler import var_model

    assert dataclasses.is_dataclass(var_model.CoreEncoder)
    assert var_model.CoreEncoder().x is not var_model.CoreEncoder().x


def test_no_var_model_rewrite_on_python_310(monkeypatch):
    monkeypatch.setattr(compat.sys, "version_info", (3, 10, 14))
    assert not compat.needs_dataclass_fix()
    assert compat.LavaCompatFinder().find_spec(compat.VAR_MODEL, None) is None


def test_finder_ignores_other_modules():
    assert compat.MP_MODULE in compat._rewrites()
    finder = compat.LavaCompatFinder()
    for name in ("numpy", "lava.proc.lif.process", "lava.lib.dl.netx.blocks"):
        assert finder.find_spec(name, None) is None


def test_install_is_idempotent():
    compat.install()
    compat.install()
    assert sum(isinstance(f, compat.LavaCompatFinder) for f in sys.meta_path) == 1


def test_object_detection_placeholder_raises_clearly(fresh_python):
    res = fresh_python(
        "import sg_lava\n"
        "import lava.lib.dl.slayer as slayer\n"
        "try:\n    slayer.obd.YOLOBase\nexcept ImportError as e:\n    print('ERR', e)\n"
    )
    assert res.returncode == 0, res.stderr
    assert "ERR" in res.stdout and "torchvision" in res.stdout


def test_netx_imports_without_torch_until_hdf5_is_used(fresh_python):
    res = fresh_python(
        "import sys, sg_lava\n"
        "import lava.lib.dl.netx.blocks.process, lava.lib.dl.netx.utils\n"
        "print('after blocks', 'torch' in sys.modules)\n"
        "from lava.lib.dl.netx import hdf5\n"
        "print('after hdf5', 'torch' in sys.modules, hdf5.Network.__name__)\n"
    )
    assert res.returncode == 0, res.stderr
    assert "after blocks False" in res.stdout
    assert "after hdf5 True Network" in res.stdout


def test_processes_package_does_not_import_torch(fresh_python):
    res = fresh_python(
        "import sys, sg_lava.processes, sg_lava.export; print('torch' in sys.modules)"
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_no_top_level_export_or_processes_module(fresh_python):
    res = fresh_python(
        "import importlib.util, os\n"
        "os.chdir('/')\n"
        "print(importlib.util.find_spec('export'), importlib.util.find_spec('processes'))\n"
        "import sys, sg_lava.export, sg_lava.processes\n"
        "files = [sys.modules[f'sg_lava.{m}'].__file__ for m in ('export', 'processes')]\n"
        "print(*(f.rsplit('/', 2)[-2] for f in files))\n"
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["None None", "export processes"]


def test_lava_imports_after_another_library_set_the_start_method(fresh_python):
    code = (
        "import multiprocessing as mp\n"
        "mp.set_start_method('fork')\n"
        "{compat}"
        "import lava.magma.core.process.process\n"
        "print('ok', mp.get_start_method())\n"
    )
    res = fresh_python(code.format(compat="import sg_lava\n"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok fork"


def test_start_method_rewrite():
    out = compat.rewrite_start_method("if x:\n    mp.set_start_method('fork')\n")
    assert "allow_none=True) == 'fork' or mp.set_start_method('fork', force=True)" in out
