"""The exact Loihi 2 integer model: the quantiser (float -> integers, calibrated) and the
batched fixed-point reference that Lava must match spike for spike."""
