"""Data that streams: samples binned one at a time, batches through a torch ``DataLoader``.

A :class:`StreamData` has the interface the trainer uses (``len``, ``n_classes``,
``batches(batch_size, generator)``), like an in-memory :class:`~sg_lava.data.tasks.TaskData`, but
holds no sample: workers read and bin each sample (:class:`Binned`: tonic's ``ToFrame``) when
its batch is due, so peak memory depends on the batch, not on the dataset's size or the
time resolution. With the same generator the batches come in the same order as
``TaskData``'s, so streaming and in-memory training of the same samples are the same run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from sg_lava.data.tasks import TaskData
from sg_lava.errors import UserError
from sg_lava.export.readout import readout_mask
from sg_lava.interrupts import guard_children, kill_children, leash, raise_pending

VALIDATION_BATCH = 256  # samples per validation batch: the largest batch held at once


def window(readout: str | float, n: int, T: int, lengths=None) -> Tensor:
    """The readout mask (n, T) of ``n`` samples of ``T`` steps as a tensor
    (:func:`sg_lava.export.readout.readout_mask`)."""
    return torch.from_numpy(readout_mask(readout, n, T, lengths))


def frame_shape(sensor_size: Sequence[int]) -> tuple[int, ...]:
    """The natural input shape of binned events of a sensor (W, H, P): (W,) for a sensor of
    one row and one polarity, else (P, H, W), the frames ``ToFrame`` gives per step."""
    W, H, P = (int(n) for n in sensor_size)
    return (W,) if H == 1 and P == 1 else (P, H, W)


class Binned(Dataset):
    """Per-sample transform: events -> ``bins`` frames (tonic ``ToFrame``) -> float tensor.

    ``source[i]`` gives ``(events, label)`` with events in tonic's structured format (fields
    ``t``, ``x``, optional ``y`` and ``p``). The frames (T, P, [H,] W) are reshaped to
    (T, *input_shape); their sizes must multiply to W·H·P.
    """

    def __init__(
        self, source: Any, sensor_size: Sequence[int], bins: int, input_shape: Sequence[int]
    ) -> None:
        import tonic

        self.source = source
        self.sensor_size = tuple(int(n) for n in sensor_size)
        self.bins = int(bins)
        self.input_shape = tuple(int(n) for n in input_shape)
        if math.prod(self.input_shape) != math.prod(self.sensor_size):
            raise UserError(
                f"sensor size {list(self.sensor_size)} gives {math.prod(self.sensor_size)} "
                f"inputs per step but the network's input shape {list(self.input_shape)} has "
                f"{math.prod(self.input_shape)}"
            )
        self.to_frame = tonic.transforms.ToFrame(sensor_size=self.sensor_size, n_time_bins=bins)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        events, label = self.source[i]
        if "p" not in events.dtype.names:  # tonic's ToFrame needs a polarity field
            events = with_polarity(events)
        if len(events) == 0:
            frames = np.zeros((self.bins, *self.input_shape), np.float32)
        else:
            frames = np.asarray(self.to_frame(events), dtype=np.float32)
        return torch.from_numpy(frames.reshape(self.bins, *self.input_shape)), int(label)


def with_polarity(events: np.ndarray) -> np.ndarray:
    """A copy of ``events`` with an all-zero polarity field ``p``."""
    dtype = np.dtype([*((n, events.dtype[n]) for n in events.dtype.names), ("p", np.int8)])
    out = np.zeros(len(events), dtype)
    for name in events.dtype.names:
        out[name] = events[name]
    return out


def collate(items: list[tuple[Tensor, int]]) -> tuple[Tensor, Tensor]:
    """Stack samples of equal length into a batch (x, y)."""
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])


class StreamData:
    """A split read sample by sample through a ``DataLoader`` with ``workers`` processes."""

    def __init__(
        self,
        dataset: Dataset,
        n_classes: int,
        workers: int = 0,
        name: str = "",
        readout: str | float = "second-half",
    ) -> None:
        self.dataset = dataset
        self.n_classes = int(n_classes)
        self.workers = int(workers)
        self.name = name
        self.readout = readout  # the window of every batch's mask (sg_lava.export.readout)

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def steps(self) -> int:
        """Time steps per sample: the bins of the :class:`Binned` samples."""
        dataset = self.dataset
        while isinstance(dataset, Subset):
            dataset = dataset.dataset
        return int(dataset.bins)

    def loader(self, batch_size: int, order: Sequence[int]) -> DataLoader:
        """Batches of the samples in ``order``, read by the workers (2 batches ahead each),
        which leave stopping to this process (:mod:`sg_lava.interrupts`)."""
        guard_children()
        return DataLoader(
            self.dataset,
            batch_size=batch_size,
            sampler=order,
            num_workers=self.workers,
            collate_fn=collate,
            worker_init_fn=leash,
        )

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """Shuffled (with a generator) or ordered mini-batches ``(x, y, mask)``, in the order
        :meth:`TaskData.batches` would give them."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        batches = iter(self.loader(batch_size, order.tolist()))
        try:
            for x, y in batches:
                raise_pending()  # a signal that arrived while the workers were forked
                yield x, y, window(self.readout, len(y), x.shape[1])
        except UserError as err:  # raised in a worker: torch adds its traceback to the text
            raise UserError(_worker_message(str(err))) from None
        finally:
            stop_workers(batches)

    def subset(self, n: int | None) -> StreamData:
        """The first ``n`` samples (all for None), still streamed."""
        if n is None or n >= len(self):
            return self
        return self.select(range(n))

    def select(self, indices: Sequence[int]) -> StreamData:
        """The samples at ``indices``, in that order, still streamed."""
        return StreamData(
            Subset(self.dataset, list(indices)),
            self.n_classes,
            self.workers,
            self.name,
            self.readout,
        )

    def head(self, n: int) -> TaskData:
        """The first ``n`` samples in memory (the samples a model file stores)."""
        x, y, mask = next(self.batches(min(n, len(self))))
        return TaskData(x, y, mask, self.n_classes)


def stop_workers(batches: Iterator) -> None:
    """End a DataLoader iterator's workers now, while its queues still work.

    Left to garbage collection — after an error the iterator sits in a reference cycle —
    torch's shutdown may find the queues already closed, the workers never hear of it, and
    torch's last resort, SIGTERM, is what :func:`leash` makes them ignore. Any worker that
    still lives afterwards is killed.
    """
    shutdown = getattr(batches, "_shutdown_workers", None)  # none without workers
    if shutdown is not None:
        shutdown()
        kill_children(w.pid for w in getattr(batches, "_workers", ()) if w.is_alive())


def _worker_message(text: str) -> str:
    """The original one-line message of a UserError re-raised by a DataLoader worker."""
    last = text.strip().splitlines()[-1] if text.strip() else text
    return last.split("UserError: ", 1)[-1]
