"""The one way sg-lava reads an HDF5 file — ``net.h5`` and events data alike (h5py only).

:func:`open_confined` opens a file read-only and walks its whole tree before any data is
read. It refuses what reaches outside the file — external links, soft links, virtual
datasets, external raw storage — and what would cost more than the file is worth: a
dataset whose type the caller does not accept, one whose declared size is beyond the
caller's entry limit or the memory budget (:func:`sg_lava.limits.memory_budget`), an
attribute above 64 KiB, a tree of more than :data:`MAX_OBJECTS` objects. Messages name
the object, never bytes read from the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py

from sg_lava.errors import UserError
from sg_lava.limits import gib, memory_budget

MAX_ATTRIBUTE = 1 << 16  # bytes of one attribute
MAX_OBJECTS = 1 << 22  # groups and datasets a walk visits

Accept = Callable[[h5py.Dataset], bool]


def numeric(ds: h5py.Dataset) -> bool:
    """Integers, reals and booleans."""
    return ds.dtype.kind in "iufb"


def text(ds: h5py.Dataset) -> bool:
    """One string (a ``type`` name, a note)."""
    return h5py.check_string_dtype(ds.dtype) is not None and ds.size == 1


def records(ds: h5py.Dataset) -> bool:
    """Numbers, one string, or records whose every field is a plain number (events)."""
    fields = ds.dtype.fields
    if fields is None:
        return numeric(ds) or text(ds)
    return all(dt.kind in "iufb" and dt.shape == () for dt, *_ in fields.values())


def any_type(ds: h5py.Dataset) -> bool:
    """Whatever a foreign reader (tonic) makes of it; the tree is still confined."""
    return True


def _check_dataset(
    ds: h5py.Dataset, where: str, accept: Accept, max_entries: int | None, error: type[UserError]
) -> None:
    plist = ds.id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        raise error(f"{where} is a virtual dataset (refused)")
    if plist.get_external_count() > 0:
        raise error(f"{where} keeps its data outside the file (refused)")
    if not accept(ds):
        raise error(f"{where} has an unsupported type or size")
    if max_entries is not None and ds.size > max_entries:
        raise error(f"{where} declares {ds.size} values, more than the limit {max_entries}")
    size, budget = ds.size * ds.dtype.itemsize, memory_budget()
    if size > budget:
        raise error(
            f"{where} declares {ds.size} values ({gib(size)}), more than the memory budget "
            f"of {gib(budget)}"
        )


def _check_attributes(obj: h5py.HLObject, where: str, error: type[UserError]) -> None:
    for key in obj.attrs:
        if obj.attrs.get_id(key).get_storage_size() > MAX_ATTRIBUTE:
            raise error(f"{where}: attribute {key!r} is larger than {MAX_ATTRIBUTE >> 10} KiB")


def check_tree(
    h: h5py.File,
    path: Path,
    accept: Accept = numeric,
    max_entries: int | None = None,
    error: type[UserError] = UserError,
) -> None:
    """Walk every object of ``h`` (metadata only) and refuse what the module refuses."""
    _check_attributes(h, f"{path}: /", error)
    seen = {hash(h.id)}
    todo: list[tuple[h5py.Group, str]] = [(h, "")]
    while todo:
        group, prefix = todo.pop()
        for name in group:
            where = f"{path}: {prefix}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise error(f"{where} is a link to another file (refused)")
            if isinstance(link, h5py.SoftLink):
                raise error(f"{where} is a soft link (not part of the format)")
            obj = group[name]
            if hash(obj.id) in seen:
                raise error(f"{where} links back to an object it already holds (refused)")
            seen.add(hash(obj.id))
            if len(seen) > MAX_OBJECTS:
                raise error(f"{path} holds more than {MAX_OBJECTS} objects")
            _check_attributes(obj, where, error)
            if isinstance(obj, h5py.Group):
                todo.append((obj, f"{prefix}/{name}"))
            elif isinstance(obj, h5py.Dataset):
                _check_dataset(obj, where, accept, max_entries, error)
            else:
                raise error(f"{where} is neither a group nor a dataset")


def open_file(path: str | Path, what: str = "HDF5 file", error: type[UserError] = UserError):
    """``h5py.File(path, 'r')`` with a missing or unreadable file as one line. Only for a
    file this process or its parent already walked (:func:`open_confined`)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise error(f"{path} is not a readable HDF5 file (corrupt or truncated)") from None


@contextmanager
def open_confined(
    path: str | Path,
    accept: Accept = numeric,
    *,
    what: str = "HDF5 file",
    max_entries: int | None = None,
    error: type[UserError] = UserError,
) -> Iterator[h5py.File]:
    """The file at ``path``, open read-only once its tree passed :func:`check_tree`.

    ``accept`` says which datasets the format holds; ``max_entries`` bounds any one
    dataset's declared values. h5py's own errors while the caller reads become one line.
    """
    path = Path(path)
    with open_file(path, what, error) as h:
        try:
            check_tree(h, path, accept, max_entries, error)
            yield h
        except UserError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as err:
            raise error(f"{path}: unreadable content ({type(err).__name__})") from None
