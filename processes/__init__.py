"""sg_lava.processes: Lava Processes, ProcessModels and the network builder.

Torch-free by contract: everything here runs from the HDF5 file alone.
"""
