"""The paper's synthetic temporal tasks, generated reproducibly from a seed.

Each generator returns a :class:`TaskData`: inputs ``x`` (n, T, channels) of 0/1 events,
labels ``y`` (n,), and ``mask`` (n, T), the steps at which the class is defined and the
loss and the readout apply (from the moment the decisive event has arrived). The
``resolution`` argument makes every time step ``resolution`` times finer: the same task
in physical time, ``resolution`` times as many steps.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from sg_lava.limits import check_memory


@dataclass
class TaskData:
    """One split of a task."""

    x: Tensor  # (n, T, *input_shape) float 0/1 events
    y: Tensor  # (n,) int64 class
    mask: Tensor  # (n, T) bool: steps where the class is read out
    n_classes: int

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def steps(self) -> int:
        """Time steps per sample."""
        return int(self.x.shape[1])

    def batches(self, batch_size: int, generator: torch.Generator | None = None):
        """Shuffled (with a generator) or ordered mini-batches ``(x, y, mask)``."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            yield self.x[idx], self.y[idx], self.mask[idx]

    def head(self, n: int) -> TaskData:
        """The first ``n`` samples."""
        return TaskData(self.x[:n], self.y[:n], self.mask[:n], self.n_classes)

    def select(self, indices) -> TaskData:
        """The samples at ``indices``, in that order."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return TaskData(self.x[idx], self.y[idx], self.mask[idx], self.n_classes)


def delay_detection(
    n: int,
    seed: int,
    steps: int = 60,
    delay: int = 12,
    margin: int = 5,
    max_delay: int = 30,
    window: int = 10,
    resolution: int = 1,
) -> TaskData:
    """Delay detection: does event B follow event A by the target delay?

    Two channels, one event each (a single-step spike). Classes, balanced:
    0 — B follows A by exactly ``delay`` steps; 1 — B follows A by another delay in
    [1, ``max_delay``] at least ``margin`` steps away from ``delay``; 2 — B comes first
    (A follows B by 1..``max_delay``). The class is read out during the ``window`` steps
    that follow the second event.
    """
    g = torch.Generator().manual_seed(seed)
    r = int(resolution)
    T = steps * r
    others = torch.tensor([d for d in range(1, max_delay + 1) if abs(d - delay) >= margin])
    y = torch.arange(n) % 3
    y = y[torch.randperm(n, generator=g)]
    gap = torch.empty(n, dtype=torch.int64)
    gap[y == 0] = delay
    pick = torch.randint(len(others), (n,), generator=g)
    gap[y == 1] = others[pick[y == 1]]
    gap[y == 2] = torch.randint(1, max_delay + 1, (n,), generator=g)[y == 2]
    latest_first = steps - max_delay - window  # leave the readout window after the second event
    first = torch.randint(1, latest_first, (n,), generator=g)
    t_a = torch.where(y == 2, first + gap, first) * r
    t_b = torch.where(y == 2, first, first + gap) * r
    x = torch.zeros(n, T, 2)
    rows = torch.arange(n)
    x[rows, t_a, 0] = 1.0
    x[rows, t_b, 1] = 1.0
    second = torch.maximum(t_a, t_b)
    t = torch.arange(T).unsqueeze(0)
    mask = (t >= second.unsqueeze(1)) & (t < second.unsqueeze(1) + window * r)
    return TaskData(x, y, mask, 3)


def coincidence_detection(
    n: int,
    seed: int,
    steps: int = 60,
    itds: tuple[int, ...] = (-6, -3, 0, 3, 6),
    rate: float = 0.1,
    resolution: int = 1,
) -> TaskData:
    """Coincidence detection (interaural time difference): which delay aligns two trains?

    A random spike train with ``rate`` events per step reaches the left channel; the right
    channel gets the same train shifted by the sample's ITD (negative: right leads). The
    class is the index of the ITD in ``itds``; it is read out over the second half.
    """
    g = torch.Generator().manual_seed(seed)
    r = int(resolution)
    T = steps * r
    pad = max(abs(d) for d in itds)
    y = torch.arange(n) % len(itds)
    y = y[torch.randperm(n, generator=g)]
    train = (torch.rand(n, steps + 2 * pad, generator=g) < rate).float()
    x = torch.zeros(n, T, 2)
    for i in range(n):
        d = itds[int(y[i])]
        left = train[i, pad : pad + steps]
        right = train[i, pad - d : pad - d + steps]
        x[i, ::r, 0] = left
        x[i, ::r, 1] = right
    mask = (torch.arange(T) >= T // 2).unsqueeze(0).expand(n, T).clone()
    return TaskData(x, y, mask, len(itds))


def delay_precise(
    n: int,
    seed: int,
    steps: int = 60,
    delay: int = 12,
    near: tuple[int, ...] = (1, 2),
    window: int = 10,
    resolution: int = 1,
) -> TaskData:
    """Precise delay detection: the target delay against near misses and the reversed order.

    Two channels, one event each. Classes, balanced: 0 — B follows A by exactly ``delay``
    steps; 1 — B follows A by ``delay +- m`` for ``m`` in ``near`` (a near miss, picked
    uniformly among the ``2 len(near)`` gaps); 2 — A follows B by any of the gaps of
    classes 0 and 1 (the reversed order). Read out during the ``window`` steps from the
    second event. At ``resolution`` r every time is r times as many steps.
    """
    g = torch.Generator().manual_seed(seed)
    r = int(resolution)
    misses = sorted({delay + s * m for m in near for s in (-1, 1)})
    if not near or min(misses) < 1:
        raise ValueError(f"near misses {near} must leave positive gaps around delay {delay}")
    all_gaps = torch.tensor([delay, *misses])
    latest_first = steps - max(misses) - window
    if latest_first <= 1:
        raise ValueError(f"{steps} steps leave no room for gap {max(misses)} and window {window}")
    y = (torch.arange(n) % 3)[torch.randperm(n, generator=g)]
    gap = torch.full((n,), delay, dtype=torch.int64)
    gap1 = torch.tensor(misses)[torch.randint(len(misses), (n,), generator=g)]
    gap2 = all_gaps[torch.randint(len(all_gaps), (n,), generator=g)]
    gap = torch.where(y == 1, gap1, torch.where(y == 2, gap2, gap))
    first = torch.randint(1, latest_first, (n,), generator=g)
    second = first + gap
    t_a = torch.where(y == 2, second, first) * r
    t_b = torch.where(y == 2, first, second) * r
    return two_events(t_a, t_b, y, steps * r, window * r, 3)


def two_events(t_a: Tensor, t_b: Tensor, y: Tensor, T: int, window: int, n_classes: int):
    """Channel 0 fires at ``t_a``, channel 1 at ``t_b``; read out ``window`` steps after both."""
    n = len(y)
    x = torch.zeros(n, T, 2)
    rows = torch.arange(n)
    x[rows, t_a, 0] = 1.0
    x[rows, t_b, 1] = 1.0
    second = torch.maximum(t_a, t_b).unsqueeze(1)
    t = torch.arange(T).unsqueeze(0)
    return TaskData(x, y, (t >= second) & (t < second + window), n_classes)


def echo_location(
    n: int,
    seed: int,
    steps: int = 80,
    receivers: int = 4,
    min_delay: int = 6,
    max_delay: int = 37,
    bins: int = 4,
    jitter: int = 1,
    noise: float = 0.01,
    falloff: float = 20.0,
    window: int = 12,
    resolution: int = 1,
) -> TaskData:
    """Echo-location: how far is the object that returns the emitter's pulse?

    Channel 0 (the emitter) fires once at a random step ``t_e``. The echo returns after a
    delay proportional to the distance, ``d`` in [``min_delay``, ``max_delay``] steps
    (uniform); the class is the distance bin, ``bins`` equal bins of that range. Each of
    the ``receivers`` channels (1..receivers) hears the echo once at ``t_e + d + j``,
    ``j`` uniform in [-``jitter``, ``jitter``]; the echo is attenuated with distance:
    receiver i > 1 hears it with probability ``1 / (1 + d / falloff)`` (receiver 1
    always does). Every receiver also fires background spikes at ``noise`` per step.
    Read out for ``window`` steps from ``t_e + d + jitter`` (when every echo is in).
    At ``resolution`` r all times (and the jitter) scale by r, the noise rate by 1/r.
    """
    g = torch.Generator().manual_seed(seed)
    r = int(resolution)
    span = max_delay - min_delay + 1
    if span < bins:
        raise ValueError(f"{span} delays cannot fill {bins} bins")
    latest_emit = steps - max_delay - jitter - window
    if latest_emit <= 1:
        raise ValueError(f"{steps} steps leave no room for the echo and the readout window")
    T = steps * r
    d = torch.randint(min_delay, max_delay + 1, (n,), generator=g)
    y = (d - min_delay) * bins // span
    t_e = torch.randint(1, latest_emit, (n,), generator=g)
    hear = torch.rand(n, receivers, generator=g) < 1 / (1 + d.unsqueeze(1) / falloff)
    hear[:, 0] = True
    j = torch.randint(-jitter * r, jitter * r + 1, (n, receivers), generator=g)
    t_echo = (t_e + d).unsqueeze(1) * r + j
    x = torch.zeros(n, T, 1 + receivers)
    x[:, :, 1:] = (torch.rand(n, T, receivers, generator=g) < noise / r).float()
    rows = torch.arange(n)
    x[rows, t_e * r, 0] = 1.0
    for i in range(receivers):
        x[rows[hear[:, i]], t_echo[hear[:, i], i], 1 + i] = 1.0
    start = ((t_e + d + jitter) * r).unsqueeze(1)
    t = torch.arange(T).unsqueeze(0)
    return TaskData(x, y, (t >= start) & (t < start + window * r), bins)


TASKS: dict[str, Callable[..., TaskData]] = {
    "delay": delay_detection,
    "coincidence": coincidence_detection,
    "delay-precise": delay_precise,
    "echo": echo_location,
}


SPLITS = ("train", "test", "valid")


def make_task(name: str, n: int, seed: int, **params) -> TaskData:
    """Generate ``n`` samples of task ``name``; unknown names raise ``KeyError``, sizes
    beyond the memory budget :class:`~sg_lava.errors.UserError`."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    check_task_memory(name, n, params)
    return TASKS[name](n, seed, **params)


def sample_shape(name: str, **params) -> tuple[int, ...]:
    """(T, *input_shape) of one sample of task ``name``, before any is made at its size:
    every generator makes ``steps * resolution`` steps; the inputs come from one sample
    at resolution 1."""
    generator = TASKS[name]
    steps = params.get("steps", inspect.signature(generator).parameters["steps"].default)
    one = generator(1, 0, **{**params, "resolution": 1})
    return (int(steps) * int(params.get("resolution", 1)), *one.x.shape[2:])


def check_task_memory(name: str, n: int, params: dict, what: str | None = None) -> None:
    """Refuse ``n`` samples of a task that would not fit the memory budget (inputs, their
    generation copy and the readout mask); ``what`` names the options that asked."""
    T, *shape = sample_shape(name, **params)
    inputs = math.prod(shape)
    per_sample = T * (2 * 4 * inputs + 1)
    check_memory(
        n * per_sample,
        f"{what or f'task {name}'}: {n} samples x {T} steps x {inputs} inputs",
    )


def split_seed(seed: int, split: str) -> int:
    """The generator seed of a split: train ``2s+1``, test ``2s+2``, valid ``2**32 + s``.

    No two splits of any runs (seeds below 2**31) share a generator seed.
    """
    if split == "valid":
        return 2**32 + int(seed)
    return 2 * int(seed) + 1 + SPLITS.index(split)


def task_split(task: dict, split: str, n: int) -> TaskData:
    """``n`` samples of a split of a task recorded in a model file (name, seed, params)."""
    return make_task(
        task["name"], n, seed=split_seed(task.get("seed", 0), split), **task.get("params", {})
    )
