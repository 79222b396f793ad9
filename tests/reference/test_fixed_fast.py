"""The fast reference (float64 where proven exact) equals the plain int64 path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as fn

from sg_lava.export.neuron import GammaParams
from sg_lava.export.qnet import FixedPointSpec, QuantizedNetwork, QuantLayer
from sg_lava.reference.fixed import EXACT, F32_EXACT, FixedNetwork, Synapse
from sg_lava.reference.quantize import quantize_network
from tests.helpers import conv_net, dense_net, events


def runs_equal(a, b) -> None:
    (oa, sa, ta), (ob, sb, tb) = a, b
    assert torch.equal(oa, ob)
    assert all(torch.equal(x, y) for x, y in zip(sa, sb))
    assert ta.counts == tb.counts and ta.peaks == tb.peaks


@pytest.mark.parametrize(
    "build",
    [
        lambda: dense_net([6, 12, 9, 3], K=3),
        lambda: dense_net([6, 12, 3], K=4, per_synapse=True),
        lambda: conv_net(K=2),
        lambda: conv_net(K=2, per_synapse=True),
    ],
    ids=["dense", "per-synapse", "conv", "conv-per-synapse"],
)
def test_float_sums_equal_int64_sums_on_random_networks(build):
    net = build()
    x = events(net.input_shape, 25, p=0.4, batch=3) * 3  # counts up to 3
    q, _ = quantize_network(net, calibration=x)
    xi = q.quantize_input(x.numpy())
    fast = FixedNetwork(q)
    assert all(fast.float_layers(int(np.abs(xi).max())))  # Loihi widths: all in float
    assert fast.compiled  # on the CPU, the compiled window loop
    plain = FixedNetwork(q, float_sums=False).run(xi)
    runs_equal(fast.run(xi), plain)
    runs_equal(FixedNetwork(q, compiled=False).run(xi), plain)  # PyTorch's steps (CUDA's)
    runs_equal(FixedNetwork(q, float_sums=True).run(xi), plain)
    assert sum(int((s != 0).sum()) for s in plain[1]) > 0  # spikes were compared


def dense_layer(w: np.ndarray) -> QuantLayer:
    out, n_in = w.shape
    neuron = GammaParams.uniform(
        1, out, bucket_weight=np.ones((1, out), dtype=np.int64), is_output=True, frac_bits=0
    )
    return QuantLayer("dense", (n_in,), (out,), w, neuron)


def exact_sums(w: np.ndarray, s: np.ndarray) -> list[list[int]]:
    """Python integers: no rounding anywhere."""
    return [[sum(int(a) * int(b) for a, b in zip(row, x)) for row in w] for x in s]


def test_sums_just_below_the_bound_are_exact_in_float():
    rng = np.random.default_rng(0)
    w = 2 * rng.integers(-127, 128, (5, 40))
    w[:, 0] = 254  # every row has a large weight
    syn = Synapse.prepare(dense_layer(w), torch.device("cpu"))
    s_max = (EXACT - 1) // syn.row_l1
    assert syn.bound(s_max) < EXACT <= syn.bound(s_max + 1)
    s = rng.integers(-s_max, s_max + 1, (4, 40))
    s[:, :3] = [s_max, -s_max, s_max - 1]  # odd magnitudes near the top
    st = torch.as_tensor(s)
    want = exact_sums(w, s)
    assert syn(st.double()).long().tolist() == want
    assert syn(st).tolist() == want


def test_sparse_sums_are_exact_up_to_the_bound_and_taken_only_for_sparse_inputs():
    rng = np.random.default_rng(1)
    w = 2 * rng.integers(-127, 128, (7, 64))
    w[:, 0] = 254
    syn = Synapse.prepare(dense_layer(w), torch.device("cpu"))
    s_max = (EXACT - 1) // syn.row_l1
    s = np.zeros((6, 64), dtype=np.int64)
    s[:, 0] = [s_max, -s_max, s_max - 1, 0, 1, -1]  # odd magnitudes near the top
    s[np.arange(6), rng.integers(1, 64, 6)] = rng.integers(-s_max, s_max + 1, 6)
    st = torch.as_tensor(s).double()
    assert syn.sparse(st)  # 2 of 64 inputs per row
    assert syn(st).long().tolist() == exact_sums(w, s)
    dense = torch.as_tensor(rng.integers(1, 9, (6, 64))).double()
    assert not syn.sparse(dense) and not syn.sparse(st[:, :1].expand(6, 64))  # not contiguous
    assert syn(dense).long().tolist() == exact_sums(w, dense.long().numpy())


def test_above_the_bound_the_int64_path_is_taken_and_float_would_be_wrong():
    w = np.array([[2, 2]])
    q = QuantizedNetwork((2,), [dense_layer(w)], FixedPointSpec(state_bits=62, sum_bits=64))
    x = np.array([[[2**53 + 1, 1]]])  # 2**53 + 1 has no float64
    fast = FixedNetwork(q)
    assert fast.float_layers(2**53 + 1) == [False]
    a_int = fast.synapses[0](torch.as_tensor(x[:, 0]))
    a_float = fast.synapses[0](torch.as_tensor(x[:, 0]).double()).long()
    assert a_int.tolist() == [[2 * (2**53 + 1) + 2]] and a_float.tolist() != a_int.tolist()
    out, _, _ = fast.run(x, timing="zero")  # chose int64 on its own: the exact sum
    plain, _, _ = FixedNetwork(q, float_sums=False).run(x, timing="zero")
    assert torch.equal(out, plain)


def test_float32_limbs_are_exact_up_to_their_bound():
    """One float32 limb while every partial sum stays below 2**24; beyond it, dense layers
    go back to float64, and a float32 product would have rounded."""
    rng = np.random.default_rng(2)
    w = 2 * rng.integers(-127, 128, (5, 40))
    w[:, 0] = 254
    syn = Synapse.prepare(dense_layer(w), torch.device("cpu"))
    cap = (F32_EXACT - 1) // syn.row_l1
    assert syn.limbs(cap)[0] == 1 and syn.limbs(cap + 1) == (0, 0)
    s = rng.integers(-cap, cap + 1, (4, 40))
    r = int(np.abs(w).sum(1).argmax())
    s[0] = np.sign(w[r]) * cap  # sample 0's sum at output r: row_l1 * cap, the bound
    st = torch.as_tensor(s)
    want = exact_sums(w, s)
    assert want[0][r] == syn.row_l1 * cap
    assert syn(st.double()).long().tolist() == want == syn(st).tolist()
    big = st * 65 + 1  # past the float32 bound (odd sums): float64 sums, still exact
    assert syn(big.double()).long().tolist() == exact_sums(w, big.numpy())
    assert (big.float() @ syn.w_single).double().tolist() != exact_sums(w, big.numpy())
    # sparse payloads are summed by rows, in float32 up to the same bound (the sum at r)
    sparse = np.zeros((4, 40), dtype=np.int64)
    sparse[0, :4] = np.sign(w[r, :4]) * cap
    sparse[1:, 5] = [cap, -cap, 1]
    ss = torch.as_tensor(sparse).double()
    assert syn.sparse(ss) and syn.limbs(cap)[0] == 1
    assert syn(ss).long().tolist() == exact_sums(w, sparse)
    assert syn((ss * 65 + ss.sign()).contiguous()).long().tolist() == exact_sums(
        w, sparse * 65 + np.sign(sparse)
    )  # past the float32 bound, still sparse: summed in float64


def test_conv_sums_split_into_float32_limbs_equal_the_int64_sums():
    rng = np.random.default_rng(3)
    w = 2 * rng.integers(-127, 128, (2, 4, 3, 3, 3))  # per-synapse: K=2 copies
    w[..., 0, 0] = 254
    q, _ = quantize_network(conv_net(K=2, per_synapse=True))
    conv = QuantLayer("conv", (3, 8, 8), (4, 8, 8), w, q.layers[0].neuron, padding=(1, 1))
    syn = Synapse.prepare(conv, torch.device("cpu"))
    payloads = torch.as_tensor(rng.integers(0, 2**23, (2, 3, 8, 8)))  # spikes up to 24 bits
    payloads[:, :, 1:3, 1:3] = 2**23 - 1
    n, bits = syn.limbs(2**23 - 1)
    assert 2 <= n <= 4 and syn.row_l1 * (2**bits - 1) < F32_EXACT
    want = torch.stack(
        [fn.conv2d(payloads.double(), torch.as_tensor(wk).double(), None, 1, 1) for wk in w], 1
    )
    assert torch.equal(syn(payloads.double()).long(), want.long())
    assert torch.equal(syn(payloads), want.long())
    signed = payloads - 2**22  # negative payloads (inputs may be): the top limb is signed
    assert torch.equal(syn(signed.double()).long(), syn(signed))


def test_float32_limbs_are_not_used_when_torch_may_round_float32_products():
    syn = Synapse.prepare(dense_layer(np.array([[2, 4]])), torch.device("cpu"))
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")  # TF32 / bf16 products are allowed
        assert syn.limbs(3) == (0, 0)
    finally:
        torch.set_float32_matmul_precision(before)
    assert syn.limbs(3)[0] == 1
    conv = getattr(torch.backends.mkldnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):  # bf16 convolutions allowed
        before = conv.fp32_precision
        try:
            conv.fp32_precision = "bf16"
            assert syn.limbs(3) == (0, 0)
        finally:
            conv.fp32_precision = before


@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (2, 0, 1), (1, 2, 2)])
def test_conv_sums_equal_pytorch_conv_and_hold_near_the_bound(stride, padding, dilation):
    rng = np.random.default_rng(1)
    w = 2 * rng.integers(-127, 128, (2, 4, 3, 3, 3))  # per-synapse: K=2 copies
    w[..., 0, 0] = 254
    layer = conv_net(K=2, per_synapse=True)  # only for a valid GammaParams template
    q, _ = quantize_network(layer)
    base = q.layers[0]
    hw = tuple((8 + 2 * padding - dilation * 2 - 1) // stride + 1 for _ in range(2))
    conv = QuantLayer(
        "conv",
        (3, 8, 8),
        (4, *hw),
        w,
        base.neuron,
        (stride, stride),
        (padding, padding),
        (dilation, dilation),
    )
    syn = Synapse.prepare(conv, torch.device("cpu"))
    small = torch.as_tensor(rng.integers(-5, 6, (2, 3, 8, 8)))
    want = torch.stack(
        [
            fn.conv2d(small.double(), torch.as_tensor(wk).double(), None, stride, padding, dilation)
            for wk in w
        ],
        1,
    )
    assert torch.equal(syn(small), want.long())
    s_max = (EXACT - 1) // syn.row_l1
    big = torch.as_tensor(rng.integers(-s_max, s_max + 1, (2, 3, 8, 8)))
    big[:, :, 0, 0] = s_max
    assert torch.equal(syn(big.double()).long(), syn(big))


def test_wide_widths_run_in_int64_and_equal_the_plain_path():
    """decay_bits 24 on 32-bit states: a state times a decay reaches 2**55, past float64."""
    net = dense_net([6, 12, 3], K=3)
    x = events(net.input_shape, 20, p=0.4, batch=3)
    q, _ = quantize_network(net, spec=FixedPointSpec(state_bits=32, decay_bits=24), calibration=x)
    xi = q.quantize_input(x.numpy())
    fast = FixedNetwork(q)
    assert fast.layer_bound(1, 2**31) >= EXACT and fast.float_layers(1) == [False, False]
    runs_equal(fast.run(xi), FixedNetwork(q, float_sums=False).run(xi))


def test_chunks_and_windows_give_the_whole_run_s_results(monkeypatch):
    import sg_lava.reference.fixed as fixed

    net = conv_net(K=2)
    x = events(net.input_shape, 12, p=0.4, batch=5) * 3
    q, _ = quantize_network(net, calibration=x[:2])  # the rest may saturate: counts compared
    xi = q.quantize_input(x.numpy())
    ref = FixedNetwork(q)
    assert ref.chunk_size(5) == 5  # this small network: one chunk
    whole = ref.run(xi)
    monkeypatch.setattr(fixed, "CHUNK_STATES", 1)
    threads = torch.get_num_threads()
    assert ref.chunk_size(5) == min(5, threads)  # at least a sample per thread
    torch.set_num_threads(1)
    try:
        assert ref.chunk_size(5) == 1
        runs_equal(ref.run(xi), whole)
        monkeypatch.setattr(fixed, "WINDOW_VALUES", 1)  # every layer one step at a time
        assert ref.window_steps(1) == 1
        runs_equal(ref.run(xi), whole)
    finally:
        torch.set_num_threads(threads)


def test_a_run_that_saturates_is_redone_counting_and_clamps():
    net = dense_net([6, 12, 3], K=3)
    x = events(net.input_shape, 20, p=0.4, batch=3)
    q, _ = quantize_network(net, calibration=x)
    xi = q.quantize_input(x.numpy()) * 1000  # far beyond what it was calibrated for
    fast, plain = FixedNetwork(q).run(xi), FixedNetwork(q, float_sums=False).run(xi)
    assert fast[2].total > 0  # it did saturate
    runs_equal(fast, plain)
    runs_equal(FixedNetwork(q, compiled=False).run(xi), plain)
    assert int(fast[0].abs().max()) <= 2 ** (q.spec.state_bits - 1)
