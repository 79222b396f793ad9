"""sg-lava: SpikingGamma networks from PyTorch to Loihi 2 through Lava.

Importing the package installs the Lava compatibility hooks (:mod:`sg_lava._lava_compat`)
and nothing else: it imports neither torch nor Lava, so the Lava half stays torch-free.
The Python API (``sg_lava.GammaNetwork``, ``sg_lava.train``, ... ; ``docs/api.md``) is
loaded on first use through the module ``__getattr__``.
"""

from importlib import import_module

from sg_lava import _lava_compat

__version__ = "0.1.0"

_lava_compat.install()

# name -> (module, attribute): the top-level API, imported when first asked for
_API = {
    "GammaNetwork": ("sg_lava.network", "GammaNetwork"),
    "TrainConfig": ("sg_lava.training", "TrainConfig"),
    "train": ("sg_lava.training", "train"),
    "quantize": ("sg_lava", "quantize"),  # callable modules (sg_lava/_callable.py)
    "FixedNetwork": ("sg_lava.fixed", "FixedNetwork"),
    "save_model": ("sg_lava.model_io", "save_model"),
    "load_model": ("sg_lava.model_io", "load_model"),
    "export": ("sg_lava", "export"),
    "read_network": ("sg_lava.export.hdf5", "read"),
    "evaluate": ("sg_lava.api", "evaluate"),
    "verify": ("sg_lava", "verify"),
    "resolve_device": ("sg_lava.devices", "resolve_device"),
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'sg_lava' has no attribute {name!r}")
    module, attr = _API[name]
    if module == "sg_lava":  # a module of the same name, callable
        value = import_module(f"sg_lava.{name}")
    else:
        value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
