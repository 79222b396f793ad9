"""Neuromorphic datasets through tonic's own loaders, streamed: SHD, SSC, DVS Gesture, any.

Nothing is downloaded here: tonic would fetch a missing dataset on construction, so SHD,
SSC and DVS Gesture are first checked for the files tonic expects, and any other tonic
dataset is opened with its ``download`` replaced by a :class:`MissingDataError` saying where
to get the files and where to put them. A split is a
:class:`~sg_lava.data.streaming.StreamData`: each sample is read and binned into ``bins`` time
steps (tonic's ``ToFrame``) by ``DataLoader`` workers when its batch is due, optionally
through tonic's ``DiskCachedDataset`` (decoded events cached on disk).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sg_lava.data.streaming import Binned, StreamData, frame_shape
from sg_lava.errors import UserError

HSD_URL = "https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/"
DVS_URL = "https://research.ibm.com/interactive/dvsgesture/ (tonic's DVSGesture mirror: figshare)"
CLASSES = {"shd": 20, "ssc": 35}  # tonic lists no classes for these
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
    from sg_lava.h5files import any_type, open_confined

    with open_confined(h5, any_type, what=f"{name.upper()} {split} file"):
        pass  # tonic reads it: first make sure that it reaches nothing outside itself
    return h5


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


def _tonic_class(name: str) -> type:
    """Tonic's dataset class named ``name``, in any letter case; an unknown name is one
    line listing tonic's datasets, with the nearest one first when there is one."""
    import difflib

    import tonic

    known = {
        n.lower(): getattr(tonic.datasets, n)
        for n in dir(tonic.datasets)
        if isinstance(getattr(tonic.datasets, n), type)
        and hasattr(getattr(tonic.datasets, n), "sensor_size")
    }
    if name.lower() in known:
        return known[name.lower()]
    near = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    hint = f"did you mean {known[near[0]].__name__}? " if near else ""
    names = ", ".join(sorted(c.__name__ for c in known.values()))
    raise UserError(f"unknown tonic dataset {name!r}; {hint}tonic has {names}")


@contextmanager
def _no_download(cls: type, data: str | Path):
    """Construct a tonic dataset with its ``download`` replaced by a clear error."""

    def refuse(self) -> None:
        url = getattr(self, "url", None) or getattr(self, "base_url", "tonic's documentation")
        raise MissingDataError(
            f"{cls.__name__} data not found in {self.location_on_system}/: put the files "
            f"from {url} there as tonic expects them (nothing is downloaded here)"
        )

    original = cls.download
    cls.download = refuse
    try:
        yield
    finally:
        cls.download = original


def tonic_source(
    name: str,
    data: str | Path,
    split: str,
    transform: Any = None,
    sensor_size: tuple[int, int, int] | None = None,
) -> tuple[Any, tuple[int, ...], int | None]:
    """Tonic dataset ``name`` (raw events), found on disk or refused: the dataset, its
    sensor size and its number of classes (None where tonic does not list them)."""
    cls = _tonic_class(name)
    key = name.lower()
    if key in HSD_SPLITS:
        require_hsd(data, key, split)
    elif key == "dvsgesture":
        require_dvs_gesture(data, split == "train")
    if split not in ("train", "test", "valid"):
        raise UserError(f"unknown split {split!r}: train, test (or valid for SSC)")
    kwargs: dict[str, Any] = {"save_to": str(Path(data).expanduser()), "transform": transform}
    if key == "ssc":
        kwargs["split"] = split
    else:
        kwargs["train"] = split == "train"
    with _no_download(cls, data):
        source = cls(**kwargs)
    classes = CLASSES.get(key) or len(getattr(cls, "classes", [])) or None
    return source, tuple(sensor_size or cls.sensor_size), classes


def tonic_split(
    name: str,
    data: str | Path,
    split: str,
    bins: int,
    input_shape: tuple[int, ...] | None = None,
    n_classes: int | None = None,
    workers: int = 0,
    cache: str | Path | None = None,
    sensor_size: tuple[int, int, int] | None = None,
    transform: Any = None,
) -> StreamData:
    """Split ``split`` (train/test, or SSC's valid) of tonic dataset ``name`` as a stream.

    ``transform`` (a tonic event transform) runs on each sample before binning;
    ``sensor_size`` overrides the dataset's (e.g. after a down-sampling ``transform``);
    ``cache`` is a folder for tonic's ``DiskCachedDataset``.
    """
    import tonic

    source, size, classes = tonic_source(name, data, split, transform, sensor_size)
    if cache is not None:
        source = tonic.DiskCachedDataset(source, cache_path=str(Path(cache) / name / split))
    classes = n_classes or classes
    if classes is None:
        raise UserError(f"tonic dataset {name} does not list its classes; give n_classes")
    dataset = Binned(source, size, bins, input_shape or frame_shape(size))
    return StreamData(dataset, classes, workers, name=f"{name} {split}")
