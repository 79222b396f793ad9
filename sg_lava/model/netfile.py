"""A user's network: ``net.toml`` -> the config dict :class:`~sg_lava.model.network.GammaNetwork` takes.

The file holds exactly the config the model already uses (``docs/data.md``), checked by
the one schema, :func:`sg_lava.model.config.check_config`: every problem — bad TOML, an
unknown key, a size that is not a positive integer, layers that do not fit together, a
network that does not fit the data — is one line naming the file
(:class:`~sg_lava.errors.UserError`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sg_lava.errors import UserError
from sg_lava.model.config import check_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def read_net_toml(
    path: str | Path,
    defaults: dict[str, Any] | None = None,
    last_layer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parse and check ``net.toml``; returns the network config (a plain dict). Settings the
    file leaves out take a recipe's — ``defaults`` for the network, ``last_layer`` for its
    output layer (where neither that layer nor the top level sets them) — then the schema's."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: not found (expected a network config in TOML)")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid TOML ({str(err).splitlines()[0][:120]})") from None
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to be a network config") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: not a table of settings")
    layers = raw.get("layers")
    if last_layer and isinstance(layers, list) and layers and isinstance(layers[-1], dict):
        unset = {k: v for k, v in last_layer.items() if k not in layers[-1] and k not in raw}
        raw = {**raw, "layers": [*layers[:-1], {**layers[-1], **unset}]}
    return check_config({**(defaults or {}), **raw}, str(path))


def build_network(config: dict[str, Any], where: str):
    """The :class:`GammaNetwork` of ``config``; what does not fit becomes one line."""
    from sg_lava.model.network import GammaNetwork

    try:
        return GammaNetwork(config)
    except UserError:
        raise
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        msg = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise UserError(f"{where}: the layers do not fit together ({msg})") from None


def output_classes(net, where: str) -> int:
    """Classes a network reads out: the size of its last layer, which must be flat."""
    out_shape = net.shapes[-1][1]
    if len(out_shape) != 1:
        raise UserError(
            f"{where}: the last layer must give one value per class (a dense layer), "
            f"it gives shape {tuple(out_shape)}"
        )
    return int(out_shape[0])
