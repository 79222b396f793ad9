"""sg-lava: SpikingGamma networks from PyTorch to Loihi 2 through Lava.

Importing the package installs the Lava compatibility hooks (:mod:`sg_lava._lava_compat`)
and nothing else: it imports neither torch nor Lava, so the Lava half stays torch-free.
"""

from sg_lava import _lava_compat

__version__ = "0.1.0"

_lava_compat.install()
