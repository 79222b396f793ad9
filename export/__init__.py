"""sg_lava.export: the HDF5 file that joins training (torch) and deployment (Lava).

Nothing here may import torch at module level: the Lava side reads files with it.
"""

TIMINGS = ("lava", "zero")  # lava: one step of latency per synapse; zero: the equations
