"""sg_lava.export: the HDF5 file that joins training (torch) and deployment (Lava).

Nothing here may import torch at module level: the Lava side reads files with it.
"""

from sg_lava._callable import make_callable

TIMINGS = ("lava", "zero")  # lava: one step of latency per synapse; zero: the equations

make_callable(__name__, "sg_lava.api:export")  # sg_lava.export(model_path, net_path)
