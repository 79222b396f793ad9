"""Signals as exceptions, and Lava's child processes kept on a leash (torch-free).

* :func:`stop_on_signals` turns SIGTERM into :class:`Terminated` (a KeyboardInterrupt), so
  that ``finally`` blocks remove temporary files and stop Lava runtimes; the CLI exits
  ``128 + signal`` (130 for Ctrl-C, 143 for SIGTERM) with one line. A signal whose
  exception Python swallowed (in a fork hook) is raised again by :func:`raise_pending`.
* :func:`guard_children` makes every process that multiprocessing forks afterwards (Lava
  forks one per Process, plus a shared-memory manager; DataLoader workers) ignore SIGINT
  and SIGTERM — Ctrl-C in a terminal reaches the whole process group, and only the parent
  may decide how to stop — and die with its parent (``PR_SET_PDEATHSIG``), so a SIGKILLed
  parent leaves no orphan. DataLoader workers confirm it with :func:`leash`.
* :func:`kill_children` ends those children at once and unlinks the shared memory they
  used, for an interrupted run where Lava's own polite stop would wait for them forever.

The same mechanisms serve any code that starts Lava runtimes (``processes/builder.py``, and
worker processes that each run one) or DataLoader workers (``data/streaming.py``).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import sys
import threading
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


def add_note(err: KeyboardInterrupt, text: str) -> None:
    """What the user should know about an interrupt (where the last checkpoint is); the
    command line prints it on the interrupt's one line (:func:`interrupt_line`)."""
    err.sg_lava_note = text  # type: ignore[attr-defined]


def interrupt_line(prog: str, err: KeyboardInterrupt) -> str:
    """``prog: interrupted`` (or ``terminated``) and the note, if any: one line."""
    word = "interrupted" if exit_code(err) == 130 else "terminated"
    note = getattr(err, "sg_lava_note", "")
    return f"{prog}: {word}" + (f"; {note}" if note else "")


_pending: list[int] = []  # a signal whose exception may have been swallowed
_depth = 0  # nested stop_on_signals sessions


def _signal_error(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _handler(signum: int, frame: object) -> None:
    _pending[:] = [signum]
    raise _signal_error(signum)


def raise_pending() -> None:
    """Raise the exception of a signal that arrived where Python could not raise it.

    A handler runs at the next bytecode, wherever that is; in a fork hook (DataLoader
    workers start every epoch) or a finaliser its exception is only printed as "ignored".
    Long loops call this once per step, so such a signal still stops them.
    """
    if _pending:
        raise _signal_error(_pending.pop())


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` (and SIGINT, where Python raises it, into
    KeyboardInterrupt) so that ``finally`` blocks run; remember each signal for
    :func:`raise_pending`, and keep a swallowed one from printing a traceback."""
    global _depth
    try:
        old_term = signal.signal(signal.SIGTERM, _handler)
    except ValueError:  # not the main thread
        yield
        return
    old_int = signal.getsignal(signal.SIGINT)
    catch_int = old_int is signal.default_int_handler  # not when the shell made us ignore it
    if catch_int:
        signal.signal(signal.SIGINT, _handler)
    caught = {signal.SIGTERM, *([signal.SIGINT] if catch_int else [])}
    old_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, caught)  # a guarded child's too
    old_hook = sys.unraisablehook
    if _depth == 0:

        def quiet(unraisable) -> None:
            if not (isinstance(unraisable.exc_value, KeyboardInterrupt) and _pending):
                old_hook(unraisable)

        sys.unraisablehook = quiet
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        signal.signal(signal.SIGTERM, old_term)
        if catch_int:
            signal.signal(signal.SIGINT, old_int)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        sys.unraisablehook = old_hook
        if _depth == 0:  # raised or not, a signal ends with the session that caught it
            _pending.clear()


_parent_pid = 0
_installed = False

GROUP_SIGNALS = {signal.SIGINT, signal.SIGTERM}  # what a terminal sends the whole group


def _before_fork() -> None:
    """Hold Ctrl-C and SIGTERM across the fork: a child must not take one before it has
    set itself to ignore them (logging's own fork hook runs first and would print a
    KeyboardInterrupt traceback); the parent gets them once the fork is done."""
    global _parent_pid
    _parent_pid = os.getpid()
    signal.pthread_sigmask(signal.SIG_BLOCK, GROUP_SIGNALS)


def _in_parent() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, GROUP_SIGNALS)


def _ignore_group_signals() -> None:
    for signum in GROUP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def leash(*_: object) -> None:
    """Make this process — a child — ignore SIGINT and SIGTERM, which a terminal sends to
    the whole group (stopping is the parent's decision), and die with its parent.

    DataLoader workers call it as their ``worker_init_fn``: torch installs its own SIGTERM
    handler in a worker first, which is why a guarded child keeps these signals blocked
    from the fork until this call.
    """
    _ignore_group_signals()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, GROUP_SIGNALS)


def _in_child() -> None:
    """In a child forked by multiprocessing (Lava's processes, DataLoader workers): ignore
    the group's signals and die with the parent. They stay blocked until the child's own
    code calls :func:`leash` (a DataLoader worker); Lava's children, ignoring them, never
    need to. Other forks (``subprocess`` with a ``preexec_fn``) get them back unblocked."""
    frame = sys._getframe(1)
    while frame is not None and "multiprocessing" not in frame.f_code.co_filename:
        frame = frame.f_back
    if frame is None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, GROUP_SIGNALS)
        return
    _ignore_group_signals()
    if _parent_pid and os.getppid() != _parent_pid:  # the parent died before prctl
        os._exit(1)


def _end_daemons() -> None:
    """At exit multiprocessing terminates its daemonic children and waits for them; a
    guarded child ignores SIGTERM, so it is killed first. torch's SIGCHLD handler would take
    a killed DataLoader worker for a failed one: the default action replaces it (blocking
    the signal in this thread is not enough, another thread may take it)."""
    import multiprocessing

    daemons = [p.pid for p in multiprocessing.active_children() if p.daemon]
    if daemons:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        kill_children(daemons)


def guard_children() -> None:
    """Install the fork hooks of this module's docstring, and the exit hook that ends
    the children they guard (idempotent, process-wide)."""
    global _installed
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(
            before=_before_fork, after_in_parent=_in_parent, after_in_child=_in_child
        )
        atexit.register(_end_daemons)  # runs before multiprocessing's own, registered earlier
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
