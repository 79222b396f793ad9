"""Signals as exceptions, and Lava's child processes kept on a leash (torch-free).

* :func:`stop_on_signals` turns SIGTERM into :class:`Terminated` (a KeyboardInterrupt), so
  that ``finally`` blocks remove temporary files and stop Lava runtimes; the CLI exits
  ``128 + signal`` (130 for Ctrl-C, 143 for SIGTERM) with one line.
* :func:`guard_children` makes every process forked afterwards (Lava forks one per Process,
  plus a shared-memory manager) ignore SIGINT and SIGTERM — Ctrl-C in a terminal reaches
  the whole process group, and only the parent may decide how to stop — and die with its
  parent (``PR_SET_PDEATHSIG``), so a SIGKILLed parent leaves no orphan.
* :func:`kill_children` ends those children at once and unlinks the shared memory they
  used, for an interrupted run where Lava's own polite stop would wait for them forever.

The same mechanisms serve any code that starts Lava runtimes (``processes/builder.py``, and
worker processes that each run one).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """A signal other than SIGINT asked the command to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def exit_code(err: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal's number (130 for Ctrl-C)."""
    return 128 + getattr(err, "signum", signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` so that ``finally`` blocks run."""

    def handler(signum, frame):
        raise Terminated(signum)

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


_parent_pid = 0
_installed = False


_GROUP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _before_fork() -> None:
    """Hold Ctrl-C and SIGTERM across the fork: a child must not take one before it has
    set itself to ignore them (logging's own fork hook runs first and would print a
    KeyboardInterrupt traceback); the parent gets them once the fork is done."""
    global _parent_pid
    _parent_pid = os.getpid()
    signal.pthread_sigmask(signal.SIG_BLOCK, _GROUP_SIGNALS)


def _in_parent() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _GROUP_SIGNALS)


def _in_child() -> None:
    """In a child forked by multiprocessing (Lava's way): leave stopping to the parent, and
    die with it. Other forks (``subprocess`` with a ``preexec_fn``) are left alone."""
    try:
        _guard_child()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _GROUP_SIGNALS)


def _guard_child() -> None:
    frame = sys._getframe(2)
    while frame is not None and "multiprocessing" not in frame.f_code.co_filename:
        frame = frame.f_back
    if frame is None:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if _parent_pid and os.getppid() != _parent_pid:  # the parent died before prctl
        os._exit(1)


def guard_children() -> None:
    """Install the fork hooks of this module's docstring (idempotent, process-wide)."""
    global _installed
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(
            before=_before_fork, after_in_parent=_in_parent, after_in_child=_in_child
        )
        _installed = True


def child_pids() -> set[int]:
    """Process ids whose parent is this process (Linux /proc; empty elsewhere)."""
    me, out = os.getpid(), set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == me:
            out.add(int(name))
    return out


def kill_children(pids: Iterable[int], segments: Iterable[object] = ()) -> None:
    """SIGKILL ``pids`` (this process's children), reap them, unlink ``segments``.

    ``segments`` are ``multiprocessing.shared_memory.SharedMemory`` handles.
    """
    import multiprocessing

    pids = set(pids)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    procs = {p.pid: p for p in multiprocessing.active_children() if p.pid in pids}
    for pid in pids:
        try:
            if pid in procs:
                procs[pid].join()  # multiprocessing reaps its own children
            else:
                os.waitpid(pid, 0)
        except (OSError, ValueError):  # reaped elsewhere, or not our child
            pass
    unlinked: set[str] = set()
    for shm in segments:
        try:
            shm.close()
        except (OSError, BufferError, AttributeError):
            pass
        name = getattr(shm, "name", None)
        if name in unlinked:  # a second unlink would confuse multiprocessing's tracker
            continue
        unlinked.add(name)
        try:  # not shm.unlink(): Lava's segments are not all known to the resource tracker,
            from multiprocessing import shared_memory  # which prints a traceback for those

            shared_memory._posixshmem.shm_unlink(shm._name)
        except (OSError, AttributeError, TypeError):
            pass
