"""Helpers shared by the benchmark scripts (run them as ``python bench/<script>.py``)."""

from __future__ import annotations

import time

import numpy as np

from sg_lava.export.qnet import QuantizedNetwork
from sg_lava.processes.builder import LavaNetwork


def timed_samples(
    qnet: QuantizedNetwork, xs: np.ndarray, backend: str = "fixed", network=None
) -> list[float]:
    """Seconds from the start to the first sample's outputs, then between samples.

    The first entry includes building and compiling; the others are the cost of one
    sample in the running network. ``network`` may name a :class:`LavaNetwork` subclass
    (a baseline with other neurons).
    """
    times = []
    t0 = time.perf_counter()
    with (network or LavaNetwork)(qnet, xs, backend) as net:
        for _ in net:
            t1 = time.perf_counter()
            times.append(t1 - t0)
            t0 = t1
    return times
