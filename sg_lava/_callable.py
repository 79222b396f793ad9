"""Modules that are also the API function of the same name (torch-free).

The top-level API names ``sg_lava.export``, ``sg_lava.verify`` and ``sg_lava.quantize`` as
functions, while those names are also modules (``sg_lava.export.hdf5``, ...); importing a
submodule sets the package attribute to the module, so a plain function could not keep the
name. A callable module is both: ``import sg_lava.export.hdf5`` works, and
``sg_lava.export(model_path, net_path)`` calls the API function, imported on first call.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module


def make_callable(module_name: str, target: str) -> None:
    """Calling module ``module_name`` calls ``target`` (``"package.module:function"``)."""
    where, func = target.split(":")

    class CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(import_module(where), func)(*args, **kwargs)

    CallableModule.__call__.__doc__ = f"Calls :func:`{where}.{func}`."
    sys.modules[module_name].__class__ = CallableModule
