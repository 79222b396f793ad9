"""What every command shares: a parser whose errors are one line, option types, and
:func:`guarded`, which turns expected failures into one line and an exit code.

Nothing heavy is imported here, so that argument errors come before torch or Lava load.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable

from sg_lava.devices import launch_rank
from sg_lava.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse, but an argument error is one line (exit 2), and nothing heavy is imported."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; each option's default after its help, unless
    the help already says it or there is none to say (None, a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        quiet = any(action.default is v for v in (None, False, argparse.SUPPRESS))  # not 0
        if not action.option_strings or quiet or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def add_command(sub, name: str, summary: str, examples: str, description: str = "") -> Parser:
    """A sub-command's parser: ``summary`` in the command list, ``summary`` and
    ``description`` atop its ``--help``, ``examples`` (one command a line) below."""
    lines = "\n".join(f"  {line}" for line in examples.strip().splitlines())
    return sub.add_parser(
        name,
        help=summary,
        description=f"{summary}.\n\n{description}".strip() if description else f"{summary}.",
        epilog=f"example{'s' if len(examples.strip().splitlines()) > 1 else ''}:\n{lines}",
        formatter_class=HelpFormatter,
    )


def int_at_least(lo: int) -> Callable[[str], int]:
    """An option type: an integer of at least ``lo``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text[:40]!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {value}")
        return value

    parse.__name__ = f"integer >= {lo}"
    return parse


POSITIVE = int_at_least(1)
NON_NEGATIVE = int_at_least(0)

THREADS_HELP = (
    "CPU threads of torch and the integer reference (default: OMP_NUM_THREADS if set, "
    "else 1, the fastest for these small networks on a shared machine: bench/threads.py)"
)


def add_threads_option(p: argparse.ArgumentParser) -> None:
    """``--threads N`` (:mod:`sg_lava.threads`), for every command that computes."""
    p.add_argument("--threads", type=POSITIVE, default=None, metavar="N", help=THREADS_HELP)


def use_threads(args: argparse.Namespace) -> None:
    """Apply ``--threads`` where the command has it (before torch loads: it reads the count
    from the environment then)."""
    if hasattr(args, "threads"):
        from sg_lava.threads import set_threads

        set_threads(args.threads)


def positive_real(text: str) -> float:
    """An option type: a finite number above 0 (a learning rate)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan  # refused below, with the same line as the other bad values
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text[:40]}")
    return value


def non_negative_real(text: str) -> float:
    """An option type: a finite number of at least 0 (a cost, a rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text[:40]}")
    return value


def workers(lo: int) -> Callable[[str], int]:
    """An option type: processes to start, from ``lo`` up to this machine's cores."""
    from sg_lava.limits import cores

    at_least = int_at_least(lo)

    def parse(text: str) -> int:
        value = at_least(text)
        if value > cores():
            raise argparse.ArgumentTypeError(
                f"must be at most {cores()}, the cores of this machine, got {value}"
            )
        return value

    parse.__name__ = f"integer in [{lo}, cores]"
    return parse


def guarded(prog: str, func: Callable[[], int]) -> int:
    """Run ``func``; expected failures become one line on stderr and a non-zero exit."""
    import sg_lava  # noqa: F401  (Lava compat hooks before any command touches Lava)
    from sg_lava.interrupts import exit_code, interrupt_line, stop_on_signals

    try:
        with stop_on_signals():  # SIGTERM too runs every finally block (temp files, Lava)
            return func()
    except UserError as err:
        return fail(f"{prog}: error: {err}", err.exit_code)
    except BrokenPipeError:  # the reader went away (sg-lava inspect net.h5 | head): stop
        # quietly, as a Unix tool killed by SIGPIPE does; stdout to devnull so that the
        # interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    except KeyboardInterrupt as err:
        code, rank = exit_code(err), launch_rank()
        if rank is not None and (code == 143 or rank > 0):
            return code  # torchrun stopped it, or rank 0 speaks: a failing rank's line is last
        print(interrupt_line(prog, err), file=sys.stderr)
        return code
    except MemoryError:  # a size that no check foresaw: still the user's to change
        return fail(f"{prog}: error: out of memory (MemoryError); try smaller sizes", 1)
    except Exception as err:  # a bug or an environment problem: still one line
        if os.environ.get("SG_LAVA_DEBUG"):
            raise
        msg = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        return fail(
            f"{prog}: internal error: {type(err).__name__}: {msg} "
            "(set SG_LAVA_DEBUG=1 for the traceback)",
            3,
        )


def fail(line: str, code: int) -> int:
    """Print the one line of a failure; under ``torchrun`` also hand it to torchrun, whose
    summary then names it as the root cause instead of a pointer to its documentation."""
    print(line, file=sys.stderr)
    error_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if error_file and launch_rank() is not None:
        import json
        import time

        try:
            with open(error_file, "w") as f:  # the form torchrun's own @record writes
                extra = {"timestamp": str(int(time.time()))}
                json.dump({"message": {"message": line, "extraInfo": extra}}, f)
        except OSError:
            pass
    return code


def timing_note(qnet, net_path: str) -> str | None:
    """A warning when ``net.h5`` was trained in ``zero`` timing: Lava runs ``lava`` timing."""
    if qnet.timing != "zero":
        return None
    return (
        f"note: {net_path} was trained in 'zero' timing; Lava always runs its own schedule "
        "('lava': one step per synapse), so accuracy may differ (docs/schedule_mismatch.md)"
    )


def warn_timing(qnet, net_path: str) -> None:
    """Print :func:`timing_note` on stderr, if there is one."""
    note = timing_note(qnet, net_path)
    if note:
        print(note, file=sys.stderr)
