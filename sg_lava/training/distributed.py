"""Training on several processes with PyTorch's own engine (``torchrun``, DDP).

``torchrun --nproc_per_node N -m sg_lava train ...`` starts N copies of the command with
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set; :func:`init_from_env` joins them into one
process group (gloo on the CPU, nccl on CUDA). Every rank builds the same global batches
from the same seed and takes its contiguous shard of each (:meth:`Dist.shard`);
DistributedDataParallel averages the gradients; only rank 0 writes files and prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as td

from sg_lava.devices import launch_rank


@dataclass(frozen=True)
class Dist:
    """This process's place in the group (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """The one process that writes files and prints."""
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's contiguous share of a global batch of ``n`` samples."""
        bounds = [n * r // self.world for r in range(self.world + 1)]
        return slice(bounds[self.rank], bounds[self.rank + 1])

    def all_sum(self, value: float) -> float:
        """``value`` summed over all ranks."""
        if self.world == 1:
            return value
        nccl = td.get_backend() == "nccl"  # nccl reduces CUDA tensors only
        t = torch.tensor([value], dtype=torch.float64, device="cuda" if nccl else "cpu")
        td.all_reduce(t)
        return float(t)

    def average_gradients(self, module: torch.nn.Module) -> None:
        """Average every parameter's gradient over the ranks, as DDP does, for training steps
        that DDP cannot wrap (the traced online trainer computes its own credit)."""
        if self.world == 1:
            return
        for p in module.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            td.all_reduce(p.grad)
            p.grad /= self.world


def current() -> Dist:
    """The group this process is in (after :func:`init_from_env`), else a single process."""
    if td.is_available() and td.is_initialized():
        return Dist(td.get_rank(), td.get_world_size())
    return Dist()


def launched() -> bool:
    """Started by ``torchrun`` with more than one process."""
    return launch_rank() is not None


def init_from_env(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the ``torchrun`` group (if any); returns it and this rank's device.

    On CUDA each rank takes the GPU of its ``LOCAL_RANK``.
    """
    if not launched():
        return Dist(), device
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not td.is_initialized():
        td.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return current(), device


def shutdown(wait: bool = False) -> None:
    """Leave the process group (no-op when not distributed).

    ``wait``: first wait for every rank (after a run that ended normally), so that no rank
    tears its connections down while rank 0 still evaluates and saves. After an error no
    rank waits: ``torchrun`` stops the others when one fails.
    """
    if td.is_available() and td.is_initialized():
        if wait:
            td.barrier()
        td.destroy_process_group()
