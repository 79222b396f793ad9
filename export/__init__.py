"""sg_lava.export: the HDF5 file that joins training (torch) and deployment (Lava).

Nothing here may import torch at module level: the Lava side reads files with it. (The
package attribute ``sg_lava.export`` is the API function; reach these modules with
``from sg_lava.export import hdf5``.)
"""

TIMINGS = ("lava", "zero")  # lava: one step of latency per synapse; zero: the equations
