"""Make the archived Lava releases (lava-nc 0.10.0, lava-dl 0.6.0) importable here.

Lava is archived upstream; its wheels say ``Python <3.11`` and nobody will cut a new
release. Four things stand between those wheels and our machines. We fix them at import
time, by import hooks, never by editing installed files:

1. **Python >= 3.11 rejects lava-nc's ``var_model.py``.** It uses a dataclass instance,
   ``ByteEncoder()``, as a field default; 3.11 refuses unhashable (mutable) defaults
   (bpo-44674). We load that one module from its own source with each such default
   rewritten to ``field(default_factory=ByteEncoder)``, which is what the authors meant.
   On Python 3.10 the hook is not installed.
2. **``import lava.lib.dl.netx`` needs torchvision and cv2.** netx's ``hdf5`` imports
   slayer, whose ``__init__`` imports ``object_detection``, which imports torchvision and
   cv2. There is no CPU torchvision on PyPI and sg-lava never uses object detection, so
   where either is missing we stand in a placeholder module that raises a clear
   ``ImportError`` the moment anyone touches it.
3. **``import lava.lib.dl.netx.blocks`` imports torch.** netx's package ``__init__``
   eagerly imports ``hdf5`` (slayer, torch) and ``sequential_modules`` (torch). The Lava
   half of sg-lava must run without torch, so ``lava.lib.dl.netx`` is made a lazy package:
   its submodules (``blocks``, ``utils``, ``hdf5``, ``modules``) are imported on first
   use, exactly as ``from lava.lib.dl.netx import hdf5`` would, but ``netx.blocks`` and
   ``netx.utils`` no longer drag torch in.
4. **Lava's runtime demands to be first to touch multiprocessing.** Its
   ``message_infrastructure/multiprocessing.py`` calls ``mp.set_start_method('fork')`` at
   import, which raises "context has already been set" once any library (a data loader,
   joblib, ...) has used multiprocessing. Lava needs ``fork`` and it is Linux's default, so
   the call is made conditional: it only sets ``fork`` when the method is not ``fork``.

:func:`install` is idempotent and is called by ``import sg_lava``; import ``sg_lava``
(or this module) before anything imports Lava. Each fix is a no-op where not needed.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import types
from collections.abc import Sequence

VAR_MODEL = "lava.magma.compiler.var_model"
MP_MODULE = "lava.magma.runtime.message_infrastructure.multiprocessing"
OBJECT_DETECTION = "lava.lib.dl.slayer.object_detection"
NETX = "lava.lib.dl.netx"
_NETX_LAZY = {"hdf5": "hdf5", "blocks": "blocks", "utils": "utils", "modules": "sequential_modules"}
_MUTABLE_DEFAULT = re.compile(r"(:\s*ByteEncoder\s*=\s*)ByteEncoder\(\)")


def needs_dataclass_fix() -> bool:
    """Python 3.11 started rejecting unhashable dataclass defaults."""
    return sys.version_info >= (3, 11)


def rewrite_var_model(source: str) -> str:
    """Turn each ``x: ByteEncoder = ByteEncoder()`` into a ``default_factory`` field."""
    return _MUTABLE_DEFAULT.sub(
        r"\1__import__('dataclasses').field(default_factory=ByteEncoder)", source
    )


def rewrite_start_method(source: str) -> str:
    """Make Lava's unconditional ``mp.set_start_method('fork')`` tolerate a set context."""
    return source.replace(
        "mp.set_start_method('fork')",
        "mp.get_start_method(allow_none=True) == 'fork' or mp.set_start_method('fork', force=True)",
    )


def _rewrites() -> dict:
    """Module name -> source rewrite, for the fixes this interpreter needs."""
    table = {MP_MODULE: rewrite_start_method}
    if needs_dataclass_fix():
        table[VAR_MODEL] = rewrite_var_model
    return table


def _has_module(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class _RewritingLoader(importlib.machinery.SourceFileLoader):
    """Source loader that compiles a module with its rewrite applied (fixes 1 and 4)."""

    def source_to_code(self, data, path, *, _optimize=-1):  # type: ignore[override]
        text = importlib.util.decode_source(data) if isinstance(data, bytes) else data
        return compile(_rewrites()[self.name](text), path, "exec", dont_inherit=True)

    def get_code(self, fullname):  # bypass the cached bytecode of the unfixed source
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


class _ObjectDetectionPlaceholder(importlib.abc.Loader):
    """Loader for a stand-in ``slayer.object_detection`` (fix 2)."""

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        def __getattr__(name: str):
            if name.startswith("__"):
                raise AttributeError(name)
            raise ImportError(
                "lava.lib.dl.slayer.object_detection needs torchvision and cv2, which "
                "sg-lava does not install (sg_lava._lava_compat stands in for it)"
            )

        module.__getattr__ = __getattr__  # type: ignore[attr-defined]
        module.__path__ = []  # a package, so submodule imports fail cleanly


class _LazyNetxLoader(importlib.abc.Loader):
    """Loader for ``lava.lib.dl.netx`` that imports its submodules on demand (fix 3)."""

    def __init__(self, spec: importlib.machinery.ModuleSpec) -> None:
        self._spec = spec

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = list(self._spec.submodule_search_locations or [])
        module.__all__ = list(_NETX_LAZY)

        def __getattr__(name: str):
            if name not in _NETX_LAZY:
                raise AttributeError(f"module {NETX!r} has no attribute {name!r}")
            value = importlib.import_module(f"{NETX}.{_NETX_LAZY[name]}")
            setattr(module, name, value)
            return value

        module.__getattr__ = __getattr__  # type: ignore[attr-defined]


class LavaCompatFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder that hands out the fixed loaders; defers everything else."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target=None):
        if fullname not in (VAR_MODEL, MP_MODULE, OBJECT_DETECTION, NETX):
            return None
        if fullname in (VAR_MODEL, MP_MODULE) and fullname not in _rewrites():
            return None
        if fullname == OBJECT_DETECTION:
            if _has_module("torchvision") and _has_module("cv2"):
                return None
            return importlib.util.spec_from_loader(
                fullname, _ObjectDetectionPlaceholder(), is_package=True
            )
        spec = self._real_spec(fullname, path)
        if spec is None or spec.origin is None:
            return None
        if fullname in (VAR_MODEL, MP_MODULE):
            loader = _RewritingLoader(fullname, spec.origin)
            return importlib.util.spec_from_file_location(fullname, spec.origin, loader=loader)
        lazy = importlib.machinery.ModuleSpec(fullname, None, origin=spec.origin, is_package=True)
        lazy.submodule_search_locations = spec.submodule_search_locations
        lazy.loader = _LazyNetxLoader(spec)
        return lazy

    def _real_spec(self, fullname: str, path: Sequence[str] | None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, None)
            if spec is not None:
                return spec
        return None


_FINDER = LavaCompatFinder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (idempotent).

    Modules imported before this call are not touched; a ``var_model`` that failed to
    import simply is not in ``sys.modules`` and will be imported fixed next time.
    """
    if any(isinstance(f, LavaCompatFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _FINDER)
