"""sg-lava: SpikingGamma networks from PyTorch to Loihi 2 through Lava.

Importing the package installs the Lava compatibility hooks (:mod:`sg_lava._lava_compat`)
and imports neither torch nor Lava, so the Lava half stays torch-free. The Python API
(``docs/api.md``) is :data:`__all__`: the functions of :mod:`sg_lava.api`, and the library's
classes and functions in ``_LAZY``, loaded on first use.

Wings, each importing only those below it (``docs/architecture.md``): ``model``, ``data``,
``training``, ``reference``, ``deploy``, ``cli``; ``export`` and ``processes`` are the
torch-free file format and Lava side.
"""

import sys
import types
from importlib import import_module

from sg_lava import _lava_compat

__version__ = "0.1.0"

_lava_compat.install()

# The API function ``sg_lava.export`` shares its name with the subpackage ``sg_lava.export``;
# importing a submodule makes the import system set the package attribute to the module.
# The package keeps its function: the subpackage is reached as ``from sg_lava.export import
# hdf5`` (or ``import sg_lava.export.hdf5 as hdf5``).
_FUNCTIONS_OVER_MODULES = ("export",)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        if name in _FUNCTIONS_OVER_MODULES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

from sg_lava.api import (  # noqa: E402  (after the class)
    TrainRun,
    evaluate,
    export,
    predict,
    quantize,
    train,
    verify,
)
from sg_lava.devices import resolve_device  # noqa: E402  (torch-free until called)
from sg_lava.training.config import TrainConfig  # noqa: E402  (torch-free)

# the library's own classes and functions that need torch (or h5py), loaded when first
# asked for: name -> (module, attribute)
_LAZY = {
    "GammaNetwork": ("sg_lava.model.network", "GammaNetwork"),
    "FixedNetwork": ("sg_lava.reference.fixed", "FixedNetwork"),
    "save_model": ("sg_lava.model.modelfile", "save_model"),
    "load_model": ("sg_lava.model.modelfile", "load_model"),
    "read_network": ("sg_lava.export.hdf5", "read"),
}

__all__ = [
    "FixedNetwork",
    "GammaNetwork",
    "TrainConfig",
    "TrainRun",
    "__version__",
    "evaluate",
    "export",
    "load_model",
    "predict",
    "quantize",
    "read_network",
    "resolve_device",
    "save_model",
    "train",
    "verify",
]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'sg_lava' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
