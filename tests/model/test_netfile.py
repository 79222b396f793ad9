"""net.toml: read into the config the model uses, and every bad file named in one line."""

from __future__ import annotations

import pytest

from sg_lava.errors import UserError
from sg_lava.model.netfile import read_net_toml
from sg_lava.model.network import GammaNetwork

CONV = """
input_shape = [2, 8, 8]
K = 2
F = 0.5
theta0 = 1.0
per_synapse = true
timing = "zero"
weight_bits = 8

[[layers]]
type = "conv"
out_channels = 4
kernel_size = 3
padding = 1

[[layers]]
type = "pool"
kernel_size = 2

[[layers]]
type = "flatten"

[[layers]]
type = "dense"
out_features = 5
K = 3
"""


def test_conv_net_toml_builds_the_network_it_describes(tmp_path):
    (tmp_path / "net.toml").write_text(CONV)
    config = read_net_toml(tmp_path / "net.toml")
    net = GammaNetwork(config)
    assert net.timing == "zero" and net.input_shape == (2, 8, 8)
    assert [s[1] for s in net.shapes] == [(4, 8, 8), (4, 4, 4), (64,), (5,)]
    assert [g.K for g in net.gamma_layers] == [2, 3] and net.gamma_layers[0].per_synapse
    assert [g.weight_bits for g in net.gamma_layers] == [8, 8]


@pytest.mark.parametrize(
    "edit,message",
    [
        (("K = 2", "K = 2\nbeta = 1"), "unknown key 'beta'"),
        (("padding = 1", "padding = 1\nsize = 3"), "layer 0: unknown key 'size' for a conv"),
        (
            ("out_channels = 4", "out_channels = 0"),
            "layer 0: out_channels must be an integer in [1,",
        ),
        (("out_features = 5", "out_features = 2.5"), "layer 3: out_features must be an integer"),
        (('type = "pool"', 'type = "lstm"'), "layer 1: type must be one of"),
        (("K = 2", "K = [2"), "not valid TOML"),
        (("theta0 = 1.0", "theta0 = -1.0"), "theta0 must be a positive number"),
        (('timing = "zero"', 'timing = "late"'), "timing must be one of"),
        (("weight_bits = 8", "weight_bits = 40"), "weight_bits must be an integer in [2, 16]"),
        (
            ('type = "flatten"', 'type = "pool"\nkernel_size = 1'),
            "a dense layer needs a flat input",
        ),
        (("input_shape = [2, 8, 8]", "input_shape = [2, 8]"), "input_shape must be [n] or"),
        (("out_features = 5", ""), "layer 3: a dense layer needs 'out_features'"),
    ],
)
def test_bad_net_toml_gets_one_line_naming_the_file(tmp_path, edit, message):
    path = tmp_path / "net.toml"
    path.write_text(CONV.replace(*edit, 1))
    with pytest.raises(UserError) as err:
        read_net_toml(path)
    text = str(err.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text, text


def test_a_recipe_fills_only_what_net_toml_leaves_out(tmp_path):
    path = tmp_path / "net.toml"
    base = 'input_shape = [3]\n[[layers]]\ntype = "dense"\nout_features = 4\n'
    path.write_text(base + '[[layers]]\ntype = "dense"\nout_features = 2\n')
    last = {"per_synapse": True, "F": 0.3}
    cfg = read_net_toml(path, {"K": 8, "theta0": 0.7}, last)
    assert cfg["K"] == 8 and cfg["theta0"] == 0.7
    assert cfg["layers"][-1]["per_synapse"] is True and cfg["layers"][-1]["F"] == 0.3
    assert "per_synapse" not in cfg["layers"][0]  # the hidden layer keeps the network's
    path.write_text(
        "K = 2\nper_synapse = false\n"
        + base
        + '[[layers]]\ntype = "dense"\nout_features = 2\nF = 0.9\n'
    )
    cfg = read_net_toml(path, {"K": 8}, last)
    assert cfg["K"] == 2 and cfg["layers"][-1]["F"] == 0.9  # the file's own settings win
    assert "per_synapse" not in cfg["layers"][-1]  # set at the top level: not overridden
