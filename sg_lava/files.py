"""The one output helper of every command, and file digests (torch-free).

Every file sg-lava writes goes through :func:`atomic_write`: a temporary file beside the
destination, written, flushed and fsynced, then renamed into place and the folder fsynced.
:func:`check_destination` is the same refusal logic, to be called before long work starts
(training, quantising, running Lava) so that a bad destination fails at once. A command
that writes a group of files over a long time (training) holds :func:`output_lock` for
them and first clears what a killed run left (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import errno
import fcntl
import glob
import hashlib
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sg_lava.errors import UserError

PathLike = str | Path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(os.path.realpath(a)) == os.path.abspath(os.path.realpath(b))


def check_destination(path: PathLike, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Refuse a destination that would destroy something; returns it as a Path.

    Refused: a path that resolves to one of the command's ``inputs``; an existing
    destination that is not a regular file (folder, FIFO, device, socket), which a rename
    would replace; a folder that cannot be written, or cannot be made because the nearest
    existing one is not a folder or cannot be written (missing folders are made when the
    file is written, :func:`atomic_write`).
    """
    path = Path(path)
    for src in inputs:
        if src is not None and _same_file(path, Path(src)):
            raise UserError(f"refusing to write {path}: it is one of this command's inputs")
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # a missing folder, or a file in the way
        st = None
    except OSError as err:
        raise UserError(f"cannot use {path} as destination: {err.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise UserError(f"refusing to write {path}: it exists and is {what}")
    folder = path.parent
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot make folder {folder}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        verb = "write to" if existing == folder else f"make {folder} in"
        raise UserError(f"cannot {verb} folder {existing}: permission denied")
    return path


def make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; returns those made, outermost first."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        try:
            made.mkdir()
        except FileExistsError:
            pass
        except OSError as err:
            raise UserError(f"cannot create the folder {made}: {os_reason(err)}") from None
    return missing[::-1]


def remove_folders(made: list[Path]) -> None:
    """Remove the folders :func:`make_folders` made, innermost first, while empty."""
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            return


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders
    finally:
        os.close(fd)


def os_reason(err: OSError) -> str:
    """Why a write failed, in words (a full disk, a read-only folder, ...)."""
    return {
        errno.ENOSPC: "no space left on the device",
        errno.EFBIG: "file too large (a file size limit)",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
    }.get(err.errno or 0, err.strerror or type(err).__name__)


def _os_error(path: Path, err: OSError) -> UserError:
    return UserError(f"cannot write {path}: {os_reason(err)}")


def atomic_write(
    path: PathLike, write: Callable[[BinaryIO], None], inputs: Iterable[PathLike | None] = ()
) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    The destination is checked first (:func:`check_destination`); missing folders are
    made, and removed again if the write fails. The file gets the
    umask's permissions (as ``open`` would give), is fsynced before the rename and its
    folder after. Any failure, Ctrl-C or SIGTERM (which the CLI turns into
    KeyboardInterrupt) removes the temporary file and leaves ``path`` as it was.
    """
    path = check_destination(path, inputs)
    made = make_folders(path.parent)
    tmp = path.parent / _temporary_name(path)
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as err:
        remove_folders(made)
        raise _os_error(path, err) from None
    try:
        with os.fdopen(fd, "w+b") as f:
            write(f)
        fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)  # the writer may have closed f
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        remove_folders(made)
        if isinstance(err, OSError):
            raise _os_error(path, err) from None
        raise


def with_section(old: str, begin: str, end: str, text: str) -> str:
    """``old`` with what stands between the markers ``begin`` and ``end`` replaced by
    ``text`` (the tables that scripts write into README.md and docs/); ``text`` alone,
    between the markers, when ``old`` has none."""
    if begin in old and end in old.split(begin, 1)[1]:
        head, rest = old.split(begin, 1)
        return f"{head}{begin}\n{text}{end}{rest.split(end, 1)[1]}"
    return f"{begin}\n{text}{end}\n"


def _temporary_name(path: Path) -> str:
    """The temporary file :func:`atomic_write` writes before renaming it to ``path``."""
    return f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def remove_stale_temporaries(path: PathLike) -> list[Path]:
    """Remove what :func:`atomic_write` left beside ``path`` in a process that was killed
    (``kill -9``, power loss): temporary files whose writer no longer runs."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".")[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextmanager
def output_lock(path: PathLike, what: str = "--out") -> Iterator[None]:
    """Hold the one lock of ``path``'s outputs while the block runs: ``.NAME.lock`` beside
    it, taken with ``flock`` (released by the kernel when the holder dies, however it
    dies) and removed on leaving. A second writer is refused at once, in one line. Missing
    folders of ``path`` are made first, and removed on leaving while they are empty (a run
    that failed and removed its files leaves no folder either)."""
    path = Path(path)
    lock = path.parent / f".{path.name}.lock"
    made = make_folders(path.parent)
    try:
        with _locked(lock, path, what):
            yield
    finally:
        remove_folders(made)


@contextmanager
def _locked(lock: Path, path: Path, what: str) -> Iterator[None]:
    """Hold ``flock`` on the file ``lock`` (made if missing) while the block runs."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as err:
            raise _os_error(lock, err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(
                f"{path} is being written by another run ({lock} is held); wait for it to "
                f"end or choose another {what}"
            ) from None
        try:  # the holder before us may have removed the file we locked: lock the new one
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
        os.close(fd)


def file_sha256(path: PathLike) -> str:
    """Hex SHA-256 of a file (provenance in exported files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
