"""``model.pt``: a trained network as a versioned, code-free file.

The file is a plain dict — format name, version, the full network config, the task it
was trained on, training metadata and the state dict — so it loads with
``torch.load(weights_only=True)``: opening a model file never runs code.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from sg_lava import __version__
from sg_lava.errors import UserError
from sg_lava.files import atomic_write
from sg_lava.model.config import architecture, check_config
from sg_lava.model.network import GammaNetwork

MODEL_FORMAT = "sg-lava-model"
MODEL_VERSION = 1

# The samples a model file may keep, for data that cannot be regenerated from a seed:
# split -> (name in the file, how many). Export calibrates on the first, verify replays
# the second.
KEPT = {"train": ("calibration", 64), "test": ("test", 16)}
CALIBRATION_SAMPLES = KEPT["train"][1]


def kept_samples(train: Any, test: Any, n_test: int = KEPT["test"][1]) -> dict[str, torch.Tensor]:
    """The samples a model file keeps from data splits (anything with ``head(n).x``)."""
    return {
        KEPT["train"][0]: train.head(CALIBRATION_SAMPLES).x,
        KEPT["test"][0]: test.head(n_test).x,
    }


def stored_samples(payload: dict[str, Any], split: str) -> torch.Tensor | None:
    """The inputs of ``split`` kept in a model file's dict, if it keeps any."""
    samples = payload.get("samples")
    stored = samples.get(KEPT[split][0]) if isinstance(samples, dict) else None
    return stored if isinstance(stored, torch.Tensor) else None


def save_model(
    net: GammaNetwork,
    path: str | Path,
    *,
    task: dict | None = None,
    train: dict | None = None,
    samples: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write ``net`` atomically (temporary file in the same folder, then rename).

    ``samples`` may carry a few inputs (``calibration``, ``test``: (n, T, *input_shape))
    for models of tasks that cannot be regenerated from a seed (datasets): export
    calibrates on them and verify replays them.
    """
    payload = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "sg_lava_version": __version__,
        "config": net.config,
        "task": task or {},
        "train": train or {},
        "samples": {k: v.detach().cpu().float() for k, v in (samples or {}).items()},
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
    }
    save_torch_file(path, payload)


def save_torch_file(path: str | Path, payload: Any) -> None:
    """``torch.save`` of ``payload`` to ``path``, atomically. Serialised in memory first:
    torch's archive writer turns a write error (a full disk) into a RuntimeError without
    its cause, a plain write keeps the OSError that :func:`atomic_write` names."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write(Path(path), lambda f: f.write(buffer.getbuffer()))


def load_torch_file(path: str | Path, what: str) -> Any:
    """``torch.load(weights_only=True)`` of a file we wrote (a ``what``: model file,
    checkpoint); a missing, foreign or unsafe file raises :class:`UserError`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path} is not a readable {what} (not a torch archive)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unsafe content"
        raise UserError(f"{path} holds objects that a safe load refuses ({first[:120]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise UserError(f"{path} is not a readable {what} ({type(err).__name__})") from None


def read_model_file(path: str | Path) -> dict[str, Any]:
    """Load and check the dict inside a model file; bad input raises :class:`UserError`."""
    path = Path(path)
    payload = load_torch_file(path, "model file")
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise UserError(f"{path} is not an sg-lava model file")
    version = payload.get("version")
    if not isinstance(version, int) or version > MODEL_VERSION:
        raise UserError(
            f"{path} has model format version {version}; this sg-lava reads up to {MODEL_VERSION}"
        )
    for key in ("config", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise UserError(f"{path} lacks its {key}")
    return payload


def load_weights(net: GammaNetwork, path: str | Path) -> dict[str, Any]:
    """Copy the weights of the model file at ``path`` into ``net`` (fine-tuning) and return
    the file's dict. The file's network must have the same layers and sizes; the neuron
    settings that hold no weight (``theta0``, ``m_f``, ``timing``, ``weight_bits``, ``F``)
    are ``net``'s own."""
    theirs, payload = load_model(path)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    same = architecture(theirs.config) == architecture(net.config)
    if not same or {k: tuple(v.shape) for k, v in theirs.state_dict().items()} != shapes:
        raise UserError(
            f"{path}: its network ({architecture(theirs.config)}) is not the one trained here "
            f"({architecture(net.config)}); starting from a model file needs the same layers"
        )
    net.load_state_dict(theirs.state_dict())
    return payload


def load_model(path: str | Path) -> tuple[GammaNetwork, dict[str, Any]]:
    """The network in a model file and the file's dict."""
    payload = read_model_file(path)
    net = GammaNetwork(check_config(payload["config"], f"{path}: bad network config"))
    for value in payload["state_dict"].values():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            if not bool(torch.isfinite(value).all()):
                raise UserError(f"{path}: the weights are not finite (NaN or inf)")
    try:
        net.load_state_dict(payload["state_dict"])
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise UserError(
            f"{path}: the network in the file is inconsistent ({str(err).splitlines()[0][:160]})"
        ) from None
    net.eval()
    return net, payload
