"""A user's own data: ``DIR/train.*`` and ``DIR/test.*``, dense arrays or event recordings.

Two formats (``docs/data.md``):

* ``train.npz`` / ``test.npz``: arrays ``x`` (n, T, *input_shape) float and ``y`` (n,)
  integer class labels in [0, classes) — read into memory (:func:`load_split`);
* ``train.h5`` / ``test.h5``: one event array per sample in tonic's structured format
  (:data:`EVENTS_LAYOUT`), binned into ``bins`` steps per sample while streaming
  (:func:`events_split`).

The class is read out over the second half of each sample (the loss and the prediction use
those steps), as for the dataset examples. Every problem with a file is one clear line
naming the file (:class:`~sg_lava.errors.UserError`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sg_lava.data.streaming import VALIDATION_BATCH, Binned, StreamData, frame_shape, window
from sg_lava.data.tasks import TaskData
from sg_lava.errors import UserError
from sg_lava.export.inputs import read_npz
from sg_lava.export.qnet import MAX_MESSAGE
from sg_lava.export.readout import check_lengths
from sg_lava.limits import check_memory

EVENTS_LAYOUT = (
    "labels (n,) int; events/<i> structured (t, x[, y][, p]); attrs sensor_size [W, H, P]"
)


def load_split(
    folder: str | Path,
    split: str,
    n_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    readout: str | float = "second-half",
) -> TaskData:
    """``DIR/<split>.npz`` as a :class:`TaskData`; ``n_classes`` defaults to max(y) + 1.

    With ``input_shape``, samples of another shape are refused (they do not fit the network).
    An optional array ``lengths`` (n,) gives each padded series its own length; the mask is
    the ``readout`` window of each sample (:mod:`sg_lava.export.readout`).
    """
    if not Path(folder).is_dir():
        raise UserError(f"data folder not found: {folder}")
    path = Path(folder) / f"{split}.npz"
    if not path.is_file():
        raise UserError(f"{path}: not found (expected arrays x and y)")
    arrays = read_npz(path, ("x", "y"), optional=("lengths", "mask"))
    x, y, lengths, own = (arrays.get(k) for k in ("x", "y", "lengths", "mask"))
    _check(path, x, y, n_classes)
    if input_shape is not None and tuple(x.shape[2:]) != tuple(input_shape):
        want = ", ".join(str(n) for n in input_shape)
        raise UserError(f"{path}: x has shape {x.shape}; the network expects (n, T, {want})")
    if lengths is not None:
        try:
            check_lengths(lengths, *x.shape[:2])
        except ValueError as err:
            raise UserError(f"{path}: {err}") from None
    classes = int(n_classes if n_classes is not None else y.max() + 1)
    xt = torch.as_tensor(x.astype(np.float32))
    if readout == "task":  # the data's own window: a task model's test samples, say
        if own is None or own.shape != x.shape[:2] or own.dtype != np.bool_:
            raise UserError(
                f"{path}: the model reads out on its task's own window: give it as an array "
                f"'mask' ({x.shape[0]}, {x.shape[1]}) of booleans"
            )
        mask = torch.as_tensor(own)
    else:
        mask = window(readout, *x.shape[:2], lengths)
    return TaskData(xt, torch.as_tensor(y.astype(np.int64)), mask, classes)


def _check(path: Path, x: np.ndarray, y: np.ndarray, n_classes: int | None) -> None:
    if x.ndim < 3:
        raise UserError(f"{path}: x must be (n, T, *input_shape), has shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise UserError(f"{path}: x must hold real numbers, has dtype {x.dtype}")
    if y.ndim != 1 or len(y) != len(x):
        raise UserError(f"{path}: y must be ({len(x)},) labels, has shape {y.shape}")
    _check_labels(path, y, n_classes)
    if x.size == 0:
        raise UserError(f"{path}: x has shape {x.shape}: no time steps or no inputs")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{path}: x holds NaN or infinite values")
    top = float(np.abs(x).max())
    if top > MAX_MESSAGE:
        raise UserError(
            f"{path}: x holds values up to {top:g}; inputs must lie in "
            f"[-{MAX_MESSAGE}, {MAX_MESSAGE}] (the first synapse's 24-bit messages)"
        )


def _check_labels(path: Path, y: np.ndarray, n_classes: int | None) -> None:
    if not np.issubdtype(y.dtype, np.integer):
        raise UserError(f"{path}: y must hold integer labels, has dtype {y.dtype}")
    if len(y) == 0:
        raise UserError(f"{path}: holds no samples")
    if y.min() < 0 or (n_classes is not None and y.max() >= n_classes):
        raise UserError(
            f"{path}: labels must lie in [0, {n_classes or 'classes'}), found {y.min()}..{y.max()}"
        )


class EventsFile:
    """``DIR/<split>.h5`` in the events layout: sample ``i`` is ``(events, label)``.

    The file is opened lazily in each process (DataLoader workers fork), and each sample's
    events are checked against the sensor size as they are read.
    """

    def __init__(self, path: str | Path) -> None:
        from sg_lava.h5files import open_confined, records

        self.path = Path(path)
        self._file: tuple[int, Any] | None = None
        if not self.path.is_file():
            raise UserError(f"{self.path}: not found (expected {EVENTS_LAYOUT})")
        with open_confined(self.path, records, what="events file") as f:
            self.labels, self.sensor_size, self.has_y = self._read_header(f)

    def _read_header(self, f) -> tuple[np.ndarray, tuple[int, int, int], bool]:
        import h5py

        p = self.path
        for key, kind in (("labels", h5py.Dataset), ("events", h5py.Group)):
            if not isinstance(f.get(key), kind):
                raise UserError(f"{p}: missing {key!r} ({EVENTS_LAYOUT})")
        size = np.asarray(f.attrs.get("sensor_size", []))
        if size.shape != (3,) or not np.issubdtype(size.dtype, np.integer) or size.min() < 1:
            raise UserError(f"{p}: attribute sensor_size must be 3 positive integers [W, H, P]")
        labels = f["labels"][()]
        if labels.ndim != 1:
            raise UserError(f"{p}: labels must be (n,), has shape {labels.shape}")
        _check_labels(p, labels, None)
        events = f["events"]
        if len(events) != len(labels):
            raise UserError(f"{p}: {len(labels)} labels but {len(events)} event arrays")
        has_y = None
        for i in range(len(labels)):
            ds = events.get(str(i))
            if not isinstance(ds, h5py.Dataset):
                raise UserError(
                    f"{p}: missing events/{i} (samples are events/0..{len(labels) - 1})"
                )
            names = ds.dtype.names or ()
            if "t" not in names or "x" not in names or not set(names) <= {"t", "x", "y", "p"}:
                raise UserError(f"{p}: events/{i} must have fields t, x[, y][, p], has {names}")
            if has_y is not None and ("y" in names) != has_y:
                raise UserError(f"{p}: events/{i}: every sample must have a y field, or none")
            has_y = "y" in names
        if not has_y and size[1] != 1:
            raise UserError(f"{p}: events without a y field need sensor_size H = 1")
        return labels.astype(np.int64), tuple(int(n) for n in size), bool(has_y)

    def __len__(self) -> int:
        return len(self.labels)

    def __getstate__(self) -> dict[str, Any]:
        """Workers started by spawn get the path, not the open file."""
        return {**self.__dict__, "_file": None}

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        from sg_lava.h5files import open_file

        if self._file is None or self._file[0] != os.getpid():  # the header's walk checked it
            self._file = (os.getpid(), open_file(self.path, "events file"))
        ev = self._file[1]["events"][str(i)][()]
        self._check_events(i, ev)
        return ev, int(self.labels[i])

    def _check_events(self, i: int, ev: np.ndarray) -> None:
        where = f"{self.path}: events/{i}"
        W, H, P = self.sensor_size
        t = ev["t"]
        if not np.all(np.isfinite(t)):
            raise UserError(f"{where}: t holds NaN or infinite values")
        if np.any(np.diff(t) < 0):
            raise UserError(f"{where}: t must be sorted (non-decreasing)")
        if P == 1 and "p" in ev.dtype.names and len(np.unique(ev["p"])) > 1:
            raise UserError(f"{where}: sensor_size P = 1 but p holds more than one polarity")
        for field, top in (("x", W), ("y", H), ("p", P if P > 1 else 0)):
            if field in ev.dtype.names and len(ev) and top:
                v = ev[field]
                if not np.all(np.isfinite(v)) or v.min() < 0 or v.max() >= top or np.any(v % 1):
                    raise UserError(
                        f"{where}: {field} must be integers in [0, {top}) (sensor_size), "
                        f"found {v.min()}..{v.max()}"
                    )


def events_split(
    folder: str | Path,
    split: str,
    bins: int,
    n_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    workers: int = 0,
    readout: str | float = "second-half",
) -> StreamData:
    """``DIR/<split>.h5`` as a :class:`StreamData` of ``bins`` steps per sample."""
    source = EventsFile(Path(folder) / f"{split}.h5")
    _check_labels(source.path, source.labels, n_classes)
    shape = input_shape or frame_shape(source.sensor_size)
    inputs = math.prod(shape)
    check_memory(  # the largest batch binned at once (validation), as float32, and a copy
        2 * 4 * VALIDATION_BATCH * bins * inputs,
        f"--bins {bins}: batches of {VALIDATION_BATCH} samples x {bins} steps x {inputs} inputs",
    )
    try:
        dataset = Binned(source, source.sensor_size, bins, shape)
    except UserError as err:
        raise UserError(f"{source.path}: {err}") from None
    classes = n_classes if n_classes is not None else int(source.labels.max()) + 1
    return StreamData(dataset, classes, workers, name=str(source.path), readout=readout)


@dataclass
class UserData:
    """The splits of a data folder and how they were read (recorded in the model)."""

    train: TaskData | StreamData
    test: TaskData | StreamData
    info: dict[str, Any]
    labels: np.ndarray  # the training split's labels, for a stratified validation split

    def split_valid(self, fraction: float, seed: int) -> tuple[TaskData | StreamData, Any]:
        """(train, valid): a stratified ``fraction`` of the training split held out for
        validation, chosen by ``seed``; valid is None for a fraction of 0."""
        if fraction == 0:
            return self.train, None
        keep, held = stratified_split(self.labels, fraction, seed)
        return self.train.select(keep), self.train.select(held)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (kept, held out): about ``fraction`` of every class held out (at least one
    sample of each class that has two or more), drawn by ``seed``; both in ascending order."""
    if not 0 < fraction < 1:
        raise UserError(f"--valid-fraction must lie in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        held += rng.choice(idx, size=k, replace=False).tolist() if k > 0 else []
    held_set = set(held)
    keep = [i for i in range(len(labels)) if i not in held_set]
    return keep, sorted(held)


def open_data(
    folder: str | Path,
    n_classes: int,
    input_shape: tuple[int, ...],
    bins: int | None = None,
    workers: int = 0,
    readout: str | float = "second-half",
) -> UserData:
    """The train and test splits of ``folder`` (npz or events), checked against a network
    and read out over ``readout`` windows."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"data folder not found: {folder}")
    has = {ext: all((folder / f"{s}.{ext}").is_file() for s in ("train", "test")) for ext in ("npz", "h5")}  # fmt: skip
    kind = "npz" if has["npz"] else "h5" if has["h5"] else None
    if kind is None:
        raise UserError(
            f"{folder}: holds neither train.npz and test.npz nor train.h5 and test.h5 (docs/data.md)"
        )
    train, test = (read_split(folder, s, kind, n_classes, input_shape, bins, workers, readout) for s in ("train", "test"))  # fmt: skip
    if kind == "npz":
        return UserData(train, test, {"format": "npz", "path": str(folder.resolve())}, train.y.numpy())  # fmt: skip
    info = {"format": "events", "path": str(folder.resolve()), "bins": int(bins)}  # type: ignore[arg-type]
    return UserData(train, test, info, train.dataset.source.labels)


def open_split(
    folder: str | Path,
    split: str,
    n_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    bins: int | None = None,
    workers: int = 0,
    default_bins: int | None = None,
    readout: str | float = "second-half",
) -> TaskData | StreamData:
    """One split of a data folder, whichever format it has: ``<split>.npz``, else
    ``<split>.h5`` binned into ``bins`` steps, or ``default_bins`` (what a model trained on
    events records) when ``bins`` is None (``evaluate --data``, ``plan --data``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"data folder not found: {folder}")
    kinds = [k for k in ("npz", "h5") if (folder / f"{split}.{k}").is_file()]
    if not kinds:
        raise UserError(f"{folder}: holds neither {split}.npz nor {split}.h5 (docs/data.md)")
    if kinds[0] == "h5" and bins is None:
        bins = default_bins
    return read_split(folder, split, kinds[0], n_classes, input_shape, bins, workers, readout)


def read_split(
    folder: Path,
    split: str,
    kind: str,
    n_classes: int | None,
    input_shape: tuple[int, ...] | None,
    bins: int | None,
    workers: int = 0,
    readout: str | float = "second-half",
) -> TaskData | StreamData:
    """``folder/<split>.<kind>`` (``npz`` or ``h5``), read out over ``readout`` windows;
    ``bins`` goes with events only."""
    if kind == "npz":
        if bins is not None:
            raise UserError(f"{folder}: .npz data is already binned; --bins is for events (.h5)")
        return load_split(folder, split, n_classes, input_shape, readout)
    if bins is None or bins < 1:
        raise UserError(f"{folder}: event data (.h5) needs --bins N, the time steps per sample")
    return events_split(folder, split, bins, n_classes, input_shape, workers, readout)


def write_events(
    path: str | Path, samples: Iterable[tuple[np.ndarray, int]], sensor_size: Sequence[int]
) -> int:
    """Write ``(events, label)`` samples in the events layout (:data:`EVENTS_LAYOUT`),
    atomically and one sample at a time; returns the number written."""
    import h5py

    from sg_lava.files import atomic_write

    count = 0

    def write(f) -> None:
        nonlocal count
        labels = []
        with h5py.File(f, "w") as h:
            h.attrs["sensor_size"] = np.asarray(sensor_size, dtype=np.int64)
            group = h.create_group("events")
            for i, (ev, label) in enumerate(samples):
                group.create_dataset(str(i), data=ev)
                labels.append(int(label))
            h.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
        count = len(labels)

    atomic_write(path, write)
    return count
