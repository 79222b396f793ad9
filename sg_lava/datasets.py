"""Neuromorphic datasets through tonic's own loaders: SHD, SSC and DVS Gesture.

Nothing is downloaded here: tonic would fetch a missing dataset on construction, so each
loader first checks that the files tonic expects are on disk and otherwise raises
:class:`MissingDataError` saying where to get them and where to put them. Samples are binned
into ``bins`` time steps with tonic's ``ToFrame`` and returned as float tensors
``(n, T, *input_shape)`` of event counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sg_lava.errors import UserError

HSD_URL = "https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/"
DVS_URL = "https://research.ibm.com/interactive/dvsgesture/ (tonic's DVSGesture mirror: figshare)"
HSD_SPLITS = {"shd": ("train", "test"), "ssc": ("train", "valid", "test")}


class MissingDataError(UserError):
    """The dataset is not in the data folder; the message says how to get it."""


def hsd_location(data: str | Path, name: str) -> Path:
    return Path(data).expanduser() / name.upper()


def require_hsd(data: str | Path, name: str, split: str) -> Path:
    """Check for ``<data>/SHD/shd_<split>.h5`` (and its .zip, which tonic also checks)."""
    if name not in HSD_SPLITS or split not in HSD_SPLITS[name]:
        raise UserError(f"unknown {name} split {split!r}")
    folder = hsd_location(data, name)
    h5 = folder / f"{name}_{split}.h5"
    if not h5.is_file() or not (folder / f"{h5.name}.zip").is_file():
        raise MissingDataError(
            f"{name.upper()} {split} data not found: put {h5.name}.zip from {HSD_URL} into "
            f"{folder}/ and unzip it there (tonic expects both {h5.name}.zip and {h5.name})"
        )
    return h5


def load_hsd(
    data: str | Path,
    name: str = "shd",
    split: str = "train",
    bins: int = 100,
    max_samples: int | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SHD or SSC: (n, bins, 700) spike counts per channel and bin, and labels."""
    import tonic

    require_hsd(data, name, split)
    sensor = tonic.datasets.SHD.sensor_size
    frame = tonic.transforms.ToFrame(sensor_size=sensor, n_time_bins=bins)
    if name == "shd":
        ds = tonic.datasets.SHD(save_to=str(data), train=split == "train", transform=frame)
    else:
        ds = tonic.datasets.SSC(save_to=str(data), split=split, transform=frame)
    n = len(ds) if max_samples is None else min(len(ds), max_samples)
    xs, ys = [], []
    for i in tqdm(range(n), desc=f"{name} {split}", unit="sample", disable=not progress):
        frames, label = ds[i]
        xs.append(np.asarray(frames, dtype=np.float32).reshape(bins, -1))
        ys.append(int(label))
    return torch.as_tensor(np.stack(xs)), torch.as_tensor(ys, dtype=torch.int64)


def require_dvs_gesture(data: str | Path, train: bool) -> Path:
    """Check for tonic's extracted DVS Gesture folder (at least 100 .npy files)."""
    folder = Path(data).expanduser() / "DVSGesture"
    name = "ibmGestureTrain" if train else "ibmGestureTest"
    files = list((folder / name).glob("**/*.npy")) if (folder / name).is_dir() else []
    if len(files) < 100 or not (folder / f"{name}.tar.gz").is_file():
        raise MissingDataError(
            f"DVS Gesture data not found: put {name}.tar.gz from {DVS_URL} into {folder}/ and "
            f"extract it there (tonic expects {name}.tar.gz and the {name}/ folder of .npy files)"
        )
    return folder / name


def load_dvs_gesture(
    data: str | Path,
    train: bool = True,
    bins: int = 20,
    size: int = 32,
    max_samples: int | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DVS Gesture: (n, bins, 2, size, size) event counts (polarity, y, x), and labels."""
    import tonic

    require_dvs_gesture(data, train)
    W, H, P = tonic.datasets.DVSGesture.sensor_size
    factor = size / W
    transform = tonic.transforms.Compose(
        [
            tonic.transforms.Downsample(spatial_factor=factor),
            tonic.transforms.ToFrame(sensor_size=(size, size, P), n_time_bins=bins),
        ]
    )
    ds = tonic.datasets.DVSGesture(save_to=str(data), train=train, transform=transform)
    n = len(ds) if max_samples is None else min(len(ds), max_samples)
    xs, ys = [], []
    for i in tqdm(range(n), desc="DVS Gesture", unit="sample", disable=not progress):
        frames, label = ds[i]
        xs.append(np.asarray(frames, dtype=np.float32))  # (T, P, H, W)
        ys.append(int(label))
    return torch.as_tensor(np.stack(xs)), torch.as_tensor(ys, dtype=torch.int64)
