"""What every command shares: a parser whose errors are one line, option types, and
:func:`guarded`, which turns expected failures into one line and an exit code.

Nothing heavy is imported here, so that argument errors come before torch or Lava load.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

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


def guarded(prog: str, func: Callable[[], int]) -> int:
    """Run ``func``; expected failures become one line on stderr and a non-zero exit."""
    import sg_lava  # noqa: F401  (Lava compat hooks before any command touches Lava)
    from sg_lava.interrupts import exit_code, stop_on_signals

    try:
        with stop_on_signals():  # SIGTERM too runs every finally block (temp files, Lava)
            return func()
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # the reader went away (sg-lava inspect net.h5 | head): stop
        # quietly, as a Unix tool killed by SIGPIPE does; stdout to devnull so that the
        # interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    except KeyboardInterrupt as err:
        code = exit_code(err)
        print(f"{prog}: {'interrupted' if code == 130 else 'terminated'}", file=sys.stderr)
        return code
    except Exception as err:  # a bug or an environment problem: still one line
        if os.environ.get("SG_LAVA_DEBUG"):
            raise
        msg = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        print(
            f"{prog}: internal error: {type(err).__name__}: {msg} "
            "(set SG_LAVA_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 3


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
