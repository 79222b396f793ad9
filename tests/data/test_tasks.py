"""The delay-precise and echo task generators: labels, timing and shapes, exactly."""

from __future__ import annotations

import pytest
import torch

from sg_lava.data.recipes import RECIPES
from sg_lava.data.tasks import TASKS, delay_precise, echo_location


def event_times(x: torch.Tensor, channel: int) -> torch.Tensor:
    return x[:, :, channel].argmax(1)


@pytest.mark.parametrize("r", [1, 3])
def test_delay_precise_gaps_per_class(r):
    d = delay_precise(300, seed=0, steps=40, delay=10, near=(1, 3), window=6, resolution=r)
    assert d.x.shape == (300, 40 * r, 2) and d.y.shape == (300,) and d.n_classes == 3
    assert d.x.sum((1, 2)).eq(2).all() and d.x.sum(1).eq(1).all()
    t_a, t_b = event_times(d.x, 0), event_times(d.x, 1)
    gap = (t_b - t_a) // r
    assert ((t_b - t_a) % r == 0).all()
    assert (gap[d.y == 0] == 10).all()
    assert set(gap[d.y == 1].tolist()) == {7, 9, 11, 13}
    assert set((-gap[d.y == 2]).tolist()) == {7, 9, 10, 11, 13}
    assert torch.equal(d.mask.float().argmax(1), torch.maximum(t_a, t_b))
    assert d.mask.sum(1).eq(6 * r).all()
    assert torch.bincount(d.y).tolist() == [100, 100, 100]


def test_delay_precise_is_reproducible_and_checks_its_options():
    a, b, c = (delay_precise(30, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and not torch.equal(a.x, c.x)
    with pytest.raises(ValueError, match="positive gaps"):
        delay_precise(3, seed=0, delay=2, near=(2,))
    with pytest.raises(ValueError, match="no room"):
        delay_precise(3, seed=0, steps=20, delay=12)


@pytest.mark.parametrize("r", [1, 2])
def test_echo_times_and_labels(r):
    """Without noise: the emitter fires once; every echo lies within the jitter of
    emit + delay, and the label is the bin of that delay (span 32 -> bins of 8 steps)."""
    kw = dict(steps=60, receivers=3, min_delay=4, max_delay=35, bins=4, jitter=1, noise=0.0)
    d = echo_location(200, seed=5, resolution=r, **kw)
    assert d.x.shape == (200, 60 * r, 4) and d.n_classes == 4
    assert d.x[:, :, 0].sum(1).eq(1).all()
    assert d.x[:, :, 1].sum(1).eq(1).all()  # the first receiver always hears the echo
    assert (d.x[:, :, 2:].sum(1) <= 1).all()
    t_e = event_times(d.x, 0)
    seen = set()
    for i in range(200):
        echoes = d.x[i, :, 1:].nonzero()[:, 0] - t_e[i]
        lo, hi = int(echoes.min()), int(echoes.max())
        assert hi - lo <= 2 * r  # jitter of +-1 step, scaled
        label = int(d.y[i])
        assert 4 * r + (8 * label - 1) * r <= lo and hi <= (4 + 8 * label + 7 + 1) * r
        start = int(d.mask[i].float().argmax())
        assert int(d.mask[i].sum()) == 12 * r
        assert start - int(t_e[i]) in range((4 + 8 * label + 1) * r, (4 + 8 * label + 9) * r, r)
        seen.add(label)
    assert seen == {0, 1, 2, 3}


def test_echo_exact_delay_without_jitter():
    d = echo_location(
        100, seed=2, steps=50, receivers=2, min_delay=5, max_delay=24, bins=5, jitter=0, noise=0.0
    )
    t_e, t_1 = event_times(d.x, 0), event_times(d.x, 1)
    delay = t_1 - t_e
    assert torch.equal(d.y, (delay - 5) // 4)
    assert torch.equal(d.mask.float().argmax(1), t_1)


def test_echo_noise_rate_and_attenuation():
    d = echo_location(400, seed=3, steps=80, receivers=4, noise=0.05, falloff=10.0)
    assert d.x[:, :, 0].sum(1).eq(1).all()  # noise only on the receivers
    rate = float(d.x[:, :, 1:].mean())
    assert 0.04 < rate < 0.07  # 0.05 noise plus at most 4 echo spikes in 320 slots
    quiet = echo_location(400, seed=3, steps=80, receivers=4, noise=0.0, falloff=10.0)
    heard = quiet.x[:, :, 2:].sum((1, 2))
    assert heard[quiet.y == 0].mean() > heard[quiet.y == 3].mean()  # far echoes are fainter


def test_new_tasks_have_recipes():
    for name in ("delay-precise", "echo"):
        assert name in TASKS and name in RECIPES
        data = TASKS[name](6, seed=0, **RECIPES[name]["task"])
        assert data.mask.any(1).all()
