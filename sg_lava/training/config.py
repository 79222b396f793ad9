"""What a training run is asked to do: :class:`TrainConfig` and the choices it takes.

Torch-free, so that the command line names the choices (``--mode``, ``--loss``,
``--credit``) and checks them before torch loads.
"""

from __future__ import annotations

from dataclasses import dataclass

# online: a loss and a backward per step; bptt: through the sequence; ridge: no gradient, the
# hidden layers set from the data and the output layer fitted in closed form (training/ridge.py)
MODES = ("online", "bptt", "ridge")
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
    # the loss adds spike_cost x (hidden spikes per neuron per step), or with spike_target R
    # spike_cost x its excess over R (training/steps.SpikeCost, docs/sparsity.md)
    spike_cost: float = 0.0
    spike_target: float | None = None

    def __post_init__(self) -> None:
        for name, choices in (("mode", MODES), ("loss", LOSSES), ("credit", CREDITS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if not 0 <= self.spike_cost < float("inf"):
            raise ValueError(f"spike_cost must be a number >= 0, got {self.spike_cost!r}")
        if self.spike_target is not None and not 0 <= self.spike_target < float("inf"):
            raise ValueError(f"spike_target must be a number >= 0, got {self.spike_target!r}")
        if self.spike_target is not None and not self.spike_cost:
            raise ValueError("spike_target needs a spike_cost above 0 (the cost it bounds)")
        if self.spike_cost and self.mode == "ridge":
            raise ValueError("spike_cost needs gradient training (mode online or bptt), not ridge")

    @property
    def counts_spikes(self) -> bool:
        """Whether the loss has a spike term."""
        return self.spike_cost > 0

    def settings(self) -> dict:
        """What a resumed run must share with the checkpoint (not the device)."""
        keys = ("mode", "epochs", "batch_size", "lr", "loss", "seed", "credit")
        if self.counts_spikes:  # absent otherwise: checkpoints from before the term resume
            keys += ("spike_cost", "spike_target")
        return {k: getattr(self, k) for k in keys}
