"""Every equation of the float model against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from sg_lava.model import dynamics


def run_buckets(drives, alpha):
    K = len(alpha)
    B = torch.zeros(1, K, 1)
    out = []
    for c in drives:
        B = dynamics.bucket_step(
            B, torch.tensor([[c]], dtype=torch.float64), torch.tensor(alpha, dtype=torch.float64)
        )
        out.append(B[0, :, 0].tolist())
    return out


def test_buckets_of_an_impulse_by_hand():
    # alpha = 0.5 everywhere: B1 halves; Bk = .5 Bk + .5 B(k-1) of the previous step.
    out = run_buckets([1, 0, 0, 0], [0.5, 0.5, 0.5])
    assert out == [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.0],
        [0.25, 0.5, 0.25],
        [0.125, 0.375, 0.375],
    ]


def test_bucket_k_peaks_later_than_bucket_k_minus_1():
    out = torch.tensor(run_buckets([1] + [0] * 60, [0.8, 0.8, 0.8, 0.8]))
    peaks = out.argmax(0).tolist()
    assert peaks == sorted(peaks) and len(set(peaks)) == 4


@pytest.mark.parametrize("alpha", [[0.3, 0.6, 0.9], [0.9, 0.5, 0.7]])
def test_dc_gain_of_each_bucket(alpha):
    """Constant drive 1: B1 -> 1/(1-a1); each later bucket has unit DC gain over the one before."""
    out = run_buckets([1.0] * 600, alpha)[-1]
    assert out[0] == pytest.approx(1 / (1 - alpha[0]), rel=1e-9)
    assert out[1] == pytest.approx(out[0], rel=1e-9)
    assert out[2] == pytest.approx(out[0], rel=1e-9)


def test_kernel_moments_by_hand():
    # alpha 0.5, 0 and 0.5: bucket 1 mean 1, var 2; the alpha-0 stage adds exactly one
    # step; the last adds mean 2, var 2.
    mean, std = dynamics.kernel_moments(torch.tensor([0.5, 0.0, 0.5]))
    assert mean.tolist() == [1.0, 2.0, 4.0]
    assert (std**2).tolist() == pytest.approx([2.0, 2.0, 4.0], abs=1e-12)


@pytest.mark.parametrize("alpha", [[0.3, 0.6, 0.9], [0.9, 0.1, 0.7, 0.0]])
def test_kernel_moments_equal_the_impulse_responses(alpha):
    """Mean and std of each bucket's simulated impulse response (normalised by its area)."""
    h = torch.tensor(run_buckets([1.0] + [0.0] * 1500, alpha), dtype=torch.float64)
    t = torch.arange(h.shape[0], dtype=torch.float64).unsqueeze(1)
    w = h / h.sum(0)
    mean = (w * t).sum(0)
    std = (w * (t - mean) ** 2).sum(0).sqrt()
    m, s = dynamics.kernel_moments(torch.tensor(alpha, dtype=torch.float64))
    assert m.tolist() == pytest.approx(mean.tolist(), rel=1e-9)
    assert s.tolist() == pytest.approx(std.tolist(), rel=1e-9)


def test_transposed_cascade_equals_presynaptic_weighted_buckets():
    torch.manual_seed(0)
    K, M, N, T = 4, 5, 3, 40
    alpha = torch.rand(K, dtype=torch.float64) * 0.8 + 0.1
    W = torch.randn(N, M, dtype=torch.float64)
    V = torch.randn(K, N, M, dtype=torch.float64)
    pre = torch.zeros(1, K, M, dtype=torch.float64)
    q = torch.zeros(1, K, N, dtype=torch.float64)
    for _ in range(T):
        s = (torch.rand(1, M) < 0.3).double()
        pre = dynamics.bucket_step(pre, s, alpha)
        x_pre = torch.einsum("bkm,knm->bn", pre, W * V)
        drives = torch.stack([s @ (W * v).t() for v in V], 1)
        q = dynamics.transposed_bucket_step(q, drives, alpha)
        torch.testing.assert_close(q[:, 0], x_pre, rtol=1e-10, atol=1e-10)


def test_readout_weighted_sum_plus_bias():
    B = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])  # (batch, K=2, N=2)
    v = torch.tensor([[0.5, -1.0], [2.0, 0.25]])  # (K, N)
    x = dynamics.readout(B, v, torch.tensor([0.1, 0.2]))
    torch.testing.assert_close(x, torch.tensor([[0.5 + 6.0 + 0.1, -2.0 + 1.0 + 0.2]]))


def test_adaptive_threshold():
    y_prev = torch.tensor([0.0, 1.0, 2.5])
    torch.testing.assert_close(
        dynamics.adaptive_threshold(y_prev, 0.1, 0.2), torch.tensor([0.1, 0.3, 0.6])
    )


def test_encoder_spikes_and_payloads_for_a_ramp():
    """theta0 = m_f = 0.1, alpha_out = 0.5, y = 0, .1, .2, .3, then constant .3.

    t0: theta .1, p 0, z 0 -> no spike;  t1: theta .1, p 0, z .1 > .05 -> s .1, e .1
    t2: theta .11, p .05, z .15 > .055 -> s .11, e .16
    t3: theta .12, p .08, z .22 > .06 -> s .12, e .2
    t4: theta .13, p .1, z .2 > .065 -> s .13, e .23
    """
    ys = [0.0, 0.1, 0.2, 0.3, 0.3]
    e = y_prev = torch.zeros(1, dtype=torch.float64)
    spikes, estimates = [], []
    for y in ys:
        y = torch.tensor([y], dtype=torch.float64)
        s, e = dynamics.encoder_step(y, y_prev, e, 0.1, 0.1, torch.tensor(0.5, dtype=torch.float64))
        y_prev = y
        spikes.append(round(float(s), 10))
        estimates.append(round(float(e), 10))
    assert spikes == [0.0, 0.1, 0.11, 0.12, 0.13]
    assert estimates == [0.0, 0.1, 0.16, 0.2, 0.23]


def test_estimate_tracks_a_constant_within_half_threshold():
    """Once reached, |y - e| <= theta/2 at every step: a spike lands e within theta/2
    above y, and without spikes e only decays toward y from above or sits below."""
    y = torch.full((1,), 2.0, dtype=torch.float64)
    e = torch.zeros(1, dtype=torch.float64)
    errors, n_spikes = [], 0
    for t in range(300):
        s, e = dynamics.encoder_step(y, y, e, 0.1, 0.1, torch.tensor(0.9, dtype=torch.float64))
        n_spikes += int(s > 0)
        if t >= 50:
            errors.append(abs(float(y - e)))
    theta = 0.1 + 0.1 * 2.0
    assert max(errors) <= theta / 2 + 1e-12
    assert 0 < n_spikes < 300  # sparse: it fires to make up for the decay only


def test_straight_through_is_identity_backward():
    y = torch.tensor([0.3, 0.7], requires_grad=True)
    s = dynamics.straight_through(torch.tensor([0.0, 0.5]), y)
    (s * torch.tensor([2.0, 3.0])).sum().backward()
    assert s.tolist() == [0.0, 0.5]
    assert y.grad.tolist() == [2.0, 3.0]


def test_init_alpha_is_linspace_to_the_power_f():
    a = dynamics.init_alpha(5, F=0.5)
    torch.testing.assert_close(a, torch.linspace(0.1, 0.9, 5) ** 0.5)
    assert dynamics.init_alpha(1, 0.5).tolist() == pytest.approx([0.9**0.5])
