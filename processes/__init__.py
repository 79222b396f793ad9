"""sg_lava.processes: Lava Processes, ProcessModels and the network builder.

Torch-free by contract: everything here runs from the HDF5 file alone.
"""

BACKENDS = ("fixed", "float", "loihi2")  # Loihi2SimCfg fixed_pt, floating_pt; Loihi2HwCfg
