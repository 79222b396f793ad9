"""Training a float :class:`~sg_lava.model.network.GammaNetwork`: its settings, the online
and BPTT batch steps, forward-mode credit, the epoch loop with checkpoints, several
processes, and end-to-end runs that write ``model.pt``. Never imports deployment."""
