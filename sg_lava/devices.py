"""Where torch runs: ``--device auto|cpu|cuda[:N]`` turned into a ``torch.device``.

The one parser of device options (``sg-lava train``, ``sg-lava evaluate``, the Python API);
an unavailable CUDA device is one clear :class:`UserError`, never a CUDA traceback. Under
``torchrun``, :func:`launch_rank` says which of the processes this is.
Torch is imported on use, so that the command line can name the options torch-free.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from sg_lava.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICE_HELP = "auto (CUDA when present), cpu, cuda or cuda:N"
_SPEC = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The ``torch.device`` of ``spec``: ``auto`` picks ``cuda`` when CUDA is present."""
    import torch

    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = (spec or "auto").strip().lower()
    match = _SPEC.match(spec)
    if match is None or (match.group(1) != "cuda" and match.group(2) is not None):
        raise UserError(f"unknown device {spec!r}: use {DEVICE_HELP}")
    kind, index = match.group(1), match.group(2)
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError(f"device {spec!r} asked for, but CUDA is not available here; use cpu")
    n = torch.cuda.device_count()
    if index is not None and int(index) >= n:
        raise UserError(f"device {spec!r} does not exist: this machine has {n} CUDA device(s)")
    return torch.device("cuda", int(index) if index is not None else torch.cuda.current_device())


def launch_rank() -> int | None:
    """This process's rank when ``torchrun`` started it among several, else None (read
    from the environment torchrun sets, so that the command line knows it torch-free)."""
    try:
        if int(os.environ.get("WORLD_SIZE") or 1) > 1:
            return int(os.environ.get("RANK") or 0)
    except ValueError:
        pass
    return None
