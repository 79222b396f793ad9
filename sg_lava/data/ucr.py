"""UEA/UCR time-series archive files (``.ts``) into the ``--data`` layout: ``sg-lava convert ucr``.

A ``.ts`` file has ``@`` header lines (``@classLabel true a b c``, ``@univariate``,
``@equalLength``, ``@missing``, ...), then ``@data`` and one series per line: the channels
separated by ``:``, the values of a channel by ``,``, the class label last. Series of
unequal length are padded with zeros to the longest and keep their ``lengths``. Each
channel is z-scored with the TRAINING split's mean and standard deviation (over the real,
unpadded values), which ``normalisation.json`` keeps beside the arrays, with the class
names in label order. Missing values and time-stamped series are refused in one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sg_lava.errors import UserError
from sg_lava.files import atomic_write


@dataclass
class Series:
    """One split of a ``.ts`` file: a list of (T_i, C) arrays and their labels."""

    values: list[np.ndarray]
    labels: list[str]
    declared: list[str] | None  # @classLabel's names, in order (None: not declared)


def read_ts(path: str | Path) -> Series:
    """Parse a ``.ts`` file; anything it cannot hold as numbers is one :class:`UserError`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: not found (expected a .ts file of the UEA/UCR archive)")
    declared, in_data = None, False
    values: list[np.ndarray] = []
    labels: list[str] = []
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file") from None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            key, _, rest = line.partition(" ")
            key = key.lower()
            if key == "@timestamps" and rest.strip().lower() == "true":
                raise UserError(f"{path}: time-stamped series are not supported")
            if key == "@classlabel":
                words = rest.split()
                if not words or words[0].lower() != "true":
                    raise UserError(f"{path}: not a classification problem (@classLabel false)")
                declared = words[1:]
            in_data = key == "@data"
            continue
        *channels, label = line.split(":")
        if not channels:
            raise UserError(f"{path}:{number}: a series needs values and a class label")
        values.append(_case(path, number, channels))
        labels.append(label.strip())
    if not values:
        raise UserError(f"{path}: holds no series (after @data)")
    widths = {v.shape[1] for v in values}
    if len(widths) > 1:
        raise UserError(f"{path}: series have different numbers of channels {sorted(widths)}")
    return Series(values, labels, declared)


def _case(path: Path, number: int, channels: list[str]) -> np.ndarray:
    """One series (T, C) from its channels' comma-separated values."""
    rows = []
    for c, text in enumerate(channels):
        if "?" in text or "nan" in text.lower():
            raise UserError(
                f"{path}:{number}: channel {c} has missing values ('?' or NaN); fill or drop "
                "them before converting"
            )
        try:
            rows.append([float(v) for v in text.split(",")])
        except ValueError:
            raise UserError(
                f"{path}:{number}: channel {c} holds a value that is not a number"
            ) from None
    if len({len(r) for r in rows}) > 1:
        raise UserError(f"{path}:{number}: the channels of one series differ in length")
    case = np.asarray(rows, dtype=np.float64).T
    if not np.isfinite(case).all():
        raise UserError(f"{path}:{number}: values must be finite")
    return case


def ts_files(path: str | Path) -> tuple[Path, Path]:
    """The TRAIN and TEST files of ``path``: a folder holding ``NAME_TRAIN.ts`` and
    ``NAME_TEST.ts``, or either file itself."""
    path = Path(path)
    if path.is_dir():
        trains = sorted(path.glob("*_TRAIN.ts"))
        if len(trains) != 1:
            found = ", ".join(p.name for p in trains) or "none"
            raise UserError(f"{path}: expected one NAME_TRAIN.ts, found {found}")
        train = trains[0]
    elif path.name.endswith("_TRAIN.ts") or path.name.endswith("_TEST.ts"):
        train = path.with_name(path.name.replace("_TEST.ts", "_TRAIN.ts"))
    else:
        raise UserError(
            f"{path}: give a folder with NAME_TRAIN.ts and NAME_TEST.ts, or one of them"
        )
    test = train.with_name(train.name.replace("_TRAIN.ts", "_TEST.ts"))
    for p in (train, test):
        if not p.is_file():
            raise UserError(f"{p}: not found (both NAME_TRAIN.ts and NAME_TEST.ts are needed)")
    return train, test


def class_names(train: Series, test: Series, where: Path) -> list[str]:
    """Class names in label order: as @classLabel declares them, else sorted."""
    names = train.declared or sorted(set(train.labels), key=_natural)
    unknown = sorted((set(train.labels) | set(test.labels)) - set(names))
    if unknown:
        raise UserError(f"{where}: class {unknown[0]!r} is not among the classes {names}")
    return names


def _natural(label: str) -> tuple:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def to_arrays(series: Series, names: list[str], mean: np.ndarray, std: np.ndarray) -> dict:
    """``x`` (n, T, C) z-scored and zero-padded, ``y``, and ``lengths`` if they differ."""
    lengths = np.array([len(v) for v in series.values], dtype=np.int64)
    T, C = int(lengths.max()), series.values[0].shape[1]
    x = np.zeros((len(series.values), T, C), dtype=np.float32)
    for i, v in enumerate(series.values):
        x[i, : len(v)] = (v - mean) / std
    index = {name: k for k, name in enumerate(names)}
    arrays = {"x": x, "y": np.array([index[label] for label in series.labels], dtype=np.int64)}
    if (lengths != T).any():
        arrays["lengths"] = lengths
    return arrays


def convert_ucr(path: str | Path, out: str | Path) -> dict[str, int]:
    """Write ``out/train.npz``, ``out/test.npz`` and ``out/normalisation.json`` from the
    ``.ts`` files of ``path``; returns the sample counts. Everything is read and checked
    before anything is written."""
    train_path, test_path = ts_files(path)
    train, test = read_ts(train_path), read_ts(test_path)
    if train.values[0].shape[1] != test.values[0].shape[1]:
        raise UserError(f"{test_path}: has another number of channels than {train_path.name}")
    names = class_names(train, test, test_path)
    every = np.concatenate(train.values)
    mean, std = every.mean(0), every.std(0)
    std = np.where(std > 0, std, 1.0)  # a constant channel stays 0 after centring
    splits = {
        "train": to_arrays(train, names, mean, std),
        "test": to_arrays(test, names, mean, std),
    }
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    for split, arrays in splits.items():
        atomic_write(out / f"{split}.npz", lambda f, a=arrays: np.savez(f, **a))
    info = {
        "source": str(train_path.resolve().parent),
        "problem": train_path.name[: -len("_TRAIN.ts")],
        "classes": names,
        "channels": int(mean.shape[0]),
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
        "note": "x = (value - mean) / std per channel, training statistics; padding is 0",
    }
    text = json.dumps(info, indent=1) + "\n"
    atomic_write(out / "normalisation.json", lambda f: f.write(text.encode()))
    return {split: len(a["y"]) for split, a in splits.items()}
