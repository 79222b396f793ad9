"""sg-lava plan: counts on hand-computed networks, placement, activity and the command line."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from sg_lava import cli
from sg_lava.errors import UserError
from sg_lava.export import hdf5, plan
from sg_lava.export.neuron import GammaParams
from sg_lava.export.plan import Figure, plan_network, require_placeable
from sg_lava.export.qnet import FixedPointSpec, QuantizedNetwork, QuantLayer
from sg_lava.reference.quantize import quantize_network
from tests.helpers import dense_net


def neuron(K: int, channels: int, per_synapse: bool = False) -> GammaParams:
    """All-zero integer neuron parameters (counts ignore values)."""
    return GammaParams.uniform(K, channels, per_synapse=per_synapse)


def dense(n_in: int, n_out: int, K: int = 3, per_synapse: bool = False, out: bool = False):
    """A dense gamma layer with all-zero integer parameters."""
    shape = (K, n_out, n_in) if per_synapse else (n_out, n_in)
    weight = np.zeros(shape, dtype=np.int64)
    layer = QuantLayer("dense", (n_in,), (n_out,), weight, neuron(K, n_out, per_synapse))
    layer.neuron.is_output = out
    return layer


def conv(in_shape, out_shape, k=3, stride=(1, 1), padding=(0, 0), K=2, out=False):
    """A conv gamma layer (per-neuron bucket weights) with all-zero parameters."""
    c_out, c_in = out_shape[0], in_shape[0]
    weight = np.zeros((c_out, c_in, k, k), dtype=np.int64)
    layer = QuantLayer(
        "conv", tuple(in_shape), tuple(out_shape), weight, neuron(K, c_out),
        stride=stride, padding=padding,
    )  # fmt: skip
    layer.neuron.is_output = out
    return layer


def network(input_shape, layers, weight_bits: int = 8) -> QuantizedNetwork:
    """Chain ``layers`` (decay_out and is_output set as the file requires)."""
    for a, b in zip(layers, layers[1:]):
        a.neuron.decay_out = int(b.neuron.decay[0])
    layers[-1].neuron.is_output = True
    return QuantizedNetwork(tuple(input_shape), layers, FixedPointSpec(weight_bits=weight_bits))


def test_dense_counts_match_hand_computation():
    p = plan_network(network((5,), [dense(5, 4, K=3), dense(4, 2, K=3)]))
    a, b = p.layers
    assert (a.neurons, a.synapses, a.connections, a.synapse_bytes) == (4, 20, 20, 20)  # 4 x 5
    # state: 4 neurons x (K=3 buckets + e + y_prev) = 20; parameters: 4 x (bias + 3 bucket
    # weights) = 16, shared: 3 decays + 7 scalars the dynamics read (drive_exp,
    # bucket_weight_exp, theta0, mf, decay_out, is_output, per_synapse) = 10 -> 46
    assert a.state_words == 46
    assert (a.fan_in, a.fan_out, a.message_bits) == (5, 4, 24)
    # one core: synaptic words 5 axons x (ceil(4*8/32) + 1) = 10 -> 40 bytes; state 46 x 4 =
    # 184 bytes; routing (4 neurons + 5 input axons) x 4 = 36 bytes -> 260
    assert (a.cores, a.neurons_per_core, a.bytes_per_core) == (1, 4, 260)
    assert b.state_words == 2 * 5 + 2 * 4 + 10  # 28
    assert (b.synapses, b.fan_in, b.fan_out) == (8, 4, 2)
    assert (p.cores, p.chips, p.warnings) == (2, 1, [])


def test_per_synapse_weights_count_K_times_at_the_file_precision():
    p = plan_network(network((3,), [dense(3, 2, K=2, per_synapse=True)], weight_bits=4))
    (a,) = p.layers
    assert (a.synapses, a.connections) == (12, 12)  # K=2 copies x 2 x 3
    assert a.synapse_bytes == 6  # 12 weights x 4 bits / 8
    assert a.fan_out == 4  # an input spike reaches 2 neurons x 2 copies
    # 2 x (2 + 2) state + 2 biases (no bucket weights: they are in the synapse) + 2 + 7
    assert a.state_words == 19


def test_conv_counts_weight_sharing_padding_and_stride():
    a = plan_network(network((2, 5, 5), [conv((2, 5, 5), (3, 5, 5), padding=(1, 1), K=2)])).layers[
        0
    ]
    assert a.synapses == 54  # the kernel, stored once: 3 x 2 x 3 x 3
    # per axis with padding 1, valid taps per output 2,3,3,3,2 (sum 13): 3 x 2 x 13 x 13
    assert a.connections == 1014
    assert a.fan_in == 18  # 2 channels x 3 x 3
    assert a.fan_out == 27  # an inner pixel feeds 3 x 3 positions x 3 channels
    assert a.state_words == 75 * 4 + 3 * (1 + 2) + (2 + 7)  # 318
    b = plan_network(network((1, 5, 5), [conv((1, 5, 5), (1, 2, 2), stride=(2, 2), K=1)])).layers[0]
    # stride 2, no padding: 4 outputs x 9 taps; input index 2 is shared by both windows
    assert (b.connections, b.fan_out) == (36, 4)


def test_per_synapse_conv_stores_K_kernels():
    layer = conv((2, 5, 5), (3, 5, 5), padding=(1, 1), K=2)
    layer.neuron = neuron(2, 3, per_synapse=True)
    layer.weight = np.zeros((2, 3, 2, 3, 3), dtype=np.int64)  # K copies of the kernel
    a = plan_network(network((2, 5, 5), [layer])).layers[0]
    # twice the per-neuron figures above: 2 x 54 weights, 2 x 1014 connections, 2 x 27
    assert (a.synapses, a.connections, a.fan_out) == (108, 2028, 54)
    assert a.state_words == 75 * 4 + 3 * 1 + (2 + 7)  # no bucket weights per channel


def test_fanout_map_sums_to_the_connections():
    layer = conv((2, 6, 7), (4, 3, 4), stride=(2, 2), padding=(1, 1))
    assert plan.fanout_map(layer).sum() == plan.connections(layer)


def test_layer_over_the_memory_limit_is_split_and_named():
    p = plan_network(network((1,), [dense(1, 10000, K=1)]))
    (a,) = p.layers
    # per core with n neurons: synaptic 4 x (ceil(n/4) + 1) bytes, state 4 x (3n + 2n + 8),
    # routing 4 x (n + 1); n = 5241 gives 5248 + 104852 + 20968 = 131068 <= 131072 bytes,
    # n = 5242 gives 5248 + 104872 + 20972 = 131092: 2 cores
    assert (a.neurons_per_core, a.cores, a.limit) == (5241, 2, "core_memory_bytes")
    assert len(p.warnings) == 1
    assert "layer 0 (dense (10000,))" in p.warnings[0] and "131072 bytes" in p.warnings[0]
    assert require_placeable(p_net := network((1,), [dense(1, 10000, K=1)])).cores == 2
    assert "neuro cores" in plan.core_summary(p_net)


def test_layer_over_the_neuron_limit_is_split_and_named(monkeypatch):
    roomy = dataclasses.replace(plan.LOIHI2, core_memory_bytes=Figure(1 << 30, "bytes", "test"))
    monkeypatch.setattr(plan, "LOIHI2", roomy)
    p = plan_network(network((1,), [dense(1, 10000, K=1)]))
    assert (p.layers[0].cores, p.layers[0].neurons_per_core) == (2, 8192)
    assert "8192 neurons per core" in p.warnings[0] and "layer 0" in p.warnings[0]


def test_unplaceable_layer_is_refused_with_layer_and_limit():
    # one neuron with fan-in 40000 needs 40000 x (1 + 1) = 80000 synaptic words > 12000
    qnet = network((40000,), [dense(40000, 2, K=1)])
    p = plan_network(qnet)
    assert not p.placeable and p.layers[0].cores == 0
    assert p.layers[0].limit == "synapse_words_per_core"
    with pytest.raises(UserError) as err:
        require_placeable(qnet)
    msg = str(err.value)
    assert "layer 0 (dense (2,))" in msg and "12000 words of synaptic memory per core" in msg
    assert "\n" not in msg
    assert "cannot be placed" in plan.core_summary(qnet)


def test_too_many_cores_need_more_chips():
    p = plan_network(network((1,), [dense(1, 700000, K=1)]))
    # 5241 neurons per core (as above): ceil(700000 / 5241) = 134 cores > 128 -> 2 chips
    assert (p.cores, p.chips, p.placeable) == (134, 2, True)
    assert any("134 neuro cores" in w and "2 chips" in w for w in p.warnings)


def test_loihi2_backend_refuses_an_unplaceable_network_before_compiling():
    from sg_lava.processes.builder import LavaNetwork, lava_loihi_available

    qnet = network((40000,), [dense(40000, 2, K=1)])
    with pytest.raises(UserError, match=r"cannot place this network on Loihi 2: layer 0"):
        LavaNetwork(qnet, np.zeros((1, 2, 40000)), backend="loihi2")
    if not lava_loihi_available():  # a placeable network gets as far as the board check
        ok = network((3,), [dense(3, 2, K=1)])
        with pytest.raises(UserError, match="lava-loihi"):
            LavaNetwork(ok, np.zeros((1, 2, 3)), backend="loihi2")


def test_activity_counts_graded_events_times_fanout():
    from sg_lava.deploy.activity import measure_activity

    qnet = network((2,), [dense(2, 3, K=1)])
    x = np.array([[[1, 0], [0, 1], [1, 1], [0, 0]]], dtype=float)  # 4 events
    act = measure_activity(qnet, x, plan_network(qnet))
    (a,) = act.layers
    assert a.synops_per_inference == 12  # 4 input events x fan-out 3
    assert a.dense_ops_per_inference == 24  # 6 connections x 4 steps
    assert a.synops_per_step == 3.0 and a.spikes_per_neuron_per_step is None
    assert act.energy_per_inference_j > 0 and act.time_per_inference_s > 0


def _write(tmp_path, sizes=(2, 8, 3)):
    q, _ = quantize_network(dense_net(list(sizes), K=2))
    path = tmp_path / "net.h5"
    hdf5.write(q, path, {"task": "delay"})
    return path


def test_cli_json_has_the_keys_and_task_activity(tmp_path, capsys):
    path = _write(tmp_path)
    assert cli.main(["plan", str(path), "--task", "--samples", "3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"layers", "cores", "chips", "warnings", "activity"} <= set(d)
    assert d["cores"] == 2 and d["chips"] == 1 and d["layers"][0]["neurons"] == 8
    act = d["activity"]
    # every delay-task sample holds exactly two input events, each reaching the 8 neurons
    assert act["layers"][0]["synops_per_inference"] == 16
    # layer 1's synops are layer 0's spikes times its fan-out (3 output neurons)
    spikes = act["layers"][0]["spikes_per_inference"]
    assert act["layers"][1]["synops_per_inference"] == pytest.approx(3 * spikes)
    assert act["samples"] == 3 and act["steps"] == 60 + 2  # padded by the 2-step lag


def test_cli_text_and_inspect_mention_cores(tmp_path, capsys):
    path = _write(tmp_path)
    assert cli.main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "placement: 2 neuro cores, 1 chip(s)" in out
    assert cli.main(["inspect", str(path)]) == 0
    assert "Loihi 2: 2 neuro cores on 1 chip" in capsys.readouterr().out


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_cli_bad_file_and_wrong_inputs_give_one_line(tmp_path, capsys):
    path = _write(tmp_path)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    assert cli.main(["plan", str(junk)]) != 0
    assert "not a readable HDF5 file" in _one_line_error(capsys)
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((2, 5, 3)))
    assert cli.main(["plan", str(path), "--inputs", str(bad)]) != 0
    assert "expected (batch, T, 2)" in _one_line_error(capsys)
    assert cli.main(["plan", str(path), "--task", "nope"]) != 0
    assert "unknown task" in _one_line_error(capsys)


def test_cli_data_folder(tmp_path, capsys):
    path = _write(tmp_path)
    x = np.zeros((4, 10, 2))
    x[:, 3, 0] = 1.0  # one event per sample
    np.savez(tmp_path / "test.npz", x=x, y=np.zeros(4, int))
    assert cli.main(["plan", str(path), "--data", str(tmp_path), "--json"]) == 0
    act = json.loads(capsys.readouterr().out)["activity"]
    assert act["samples"] == 4 and act["layers"][0]["synops_per_inference"] == 8


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((4, 10, 2))}, "missing array 'y'"),
        ({"x": np.zeros((4, 10, 3)), "y": np.zeros(4, int)}, "the network expects (n, T, 2)"),
        ({"x": np.full((4, 10, 2), np.nan), "y": np.zeros(4, int)}, "NaN"),
        ({"x": np.zeros((4, 10, 2)), "y": np.zeros(3, int)}, "y must be (4,) labels"),
    ],
    ids=["missing-key", "wrong-shape", "nan", "labels"],
)
def test_bad_data_folders_are_one_line(tmp_path, capsys, arrays, message):
    np.savez(tmp_path / "test.npz", **arrays)
    path = _write(tmp_path)
    assert cli.main(["plan", str(path), "--data", str(tmp_path)]) != 0
    assert message in _one_line_error(capsys)
    assert cli.main(["plan", str(path), "--data", str(tmp_path / "nowhere")]) != 0
    assert "data folder not found" in _one_line_error(capsys)


def test_cli_inputs_file_and_cited_limits(tmp_path, capsys):
    path = _write(tmp_path)
    x = np.zeros((2, 6, 2))
    x[0, 1] = 1.0  # two events (both channels at step 1), then one more
    x[1, 4, 1] = 1.0
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["plan", str(path), "--inputs", str(tmp_path / "x.npy"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    # 3 events over 2 samples, each reaching the 8 hidden neurons: 24 / 2 per inference
    assert d["activity"]["layers"][0]["synops_per_inference"] == 12
    assert d["activity"]["layers"][0]["dense_ops_per_inference"] == 16 * 6  # 2 x 8 x 6 steps
    assert all(v["source"] and v["value"] > 0 for v in d["limits"].values())
    assert all(v["source"] for v in d["activity"]["op_costs"].values())
