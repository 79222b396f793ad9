"""What a training run is asked to do: :class:`TrainConfig` and the choices it takes.

Torch-free, so that the command line names the choices (``--mode``, ``--loss``,
``--credit``) and checks them before torch loads.
"""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("online", "bptt")  # online: a loss and a backward per step; bptt: through the sequence
LOSSES = ("ce", "mse")  # at every step of the readout window
CREDITS = ("step", "alpha", "traces")  # online credit (sg_lava.training.credit)
DEFAULT_TRACE_BUDGET_MB = 64.0  # SHD-sized boundaries (140-380 MB) cost ~100x a step: off


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run."""

    mode: str = "online"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-2
    loss: str = "ce"
    seed: int = 0
    credit: str = "step"  # online: step, alpha or traces (docs/online_credit.md)
    trace_budget_mb: float = DEFAULT_TRACE_BUDGET_MB  # a boundary needing more falls back
    device: str = "auto"  # auto | cpu | cuda[:N] (sg_lava.devices.resolve_device)

    def __post_init__(self) -> None:
        for name, choices in (("mode", MODES), ("loss", LOSSES), ("credit", CREDITS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")

    def settings(self) -> dict:
        """What a resumed run must share with the checkpoint (not the device)."""
        keys = ("mode", "epochs", "batch_size", "lr", "loss", "seed", "credit")
        return {k: getattr(self, k) for k in keys}
