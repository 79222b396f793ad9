"""Run a command as a user would, and measure what it did (exit, stderr, peak memory)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = {"sg-lava": "main", "sg-export": "export_main"}


@dataclass
class Result:
    code: int
    out: str
    err: str
    peak_mb: float  # the child's peak resident memory
    seconds: float


def _default_sigint() -> None:
    """A terminal's Ctrl-C reaches a process whose SIGINT is not ignored (a background
    test runner would pass SIG_IGN on)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def command(prog: str, *args: str) -> list[str]:
    code = f"import sys; from sg_lava.cli import {ENTRY[prog]} as m; sys.exit(m(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def start(
    prog: str,
    *args: str,
    cwd=None,
    umask: int | None = None,
    env: dict[str, str] | None = None,
    preexec=None,
) -> subprocess.Popen:
    """``prog ARGS`` in its own session; ``env`` adds variables (``SG_LAVA_MEMORY_BUDGET``),
    ``preexec`` runs in the child before it starts (resource limits)."""

    def pre() -> None:
        _default_sigint()
        if umask is not None:
            os.umask(umask)
        if preexec is not None:
            preexec()

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    env.pop("SG_LAVA_DEBUG", None)
    return subprocess.Popen(
        command(prog, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
        preexec_fn=pre,
        start_new_session=True,
    )


def run(prog: str, *args: str, **kw) -> Result:
    """:func:`start` it and wait, reaping the child with wait4 to read its peak memory."""
    t0 = time.perf_counter()
    p = start(prog, *args, **kw)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return Result(p.returncode, out, err, usage.ru_maxrss / 1024, time.perf_counter() - t0)


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def one_line_error(res: Result) -> str:
    """The single line of stderr, after asserting there is exactly one and no traceback."""
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1, res.err[-3000:]
    assert res.err == lines[0] + "\n", repr(res.err[-3000:])  # no blank line, no "\n" first
    assert "Traceback" not in res.err and "internal error" not in res.err, res.err
    return lines[0]
