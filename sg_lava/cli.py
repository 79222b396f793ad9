"""Command line: ``sg-lava <command>`` and ``sg-export``.

Every command turns expected failures (bad files, bad arguments) into one line on stderr
and a non-zero exit; see :class:`sg_lava.errors.UserError`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from sg_lava import __version__
from sg_lava.errors import UserError


def _cmd_smoke(args: argparse.Namespace) -> int:
    from sg_lava.smoke import main

    return main()


def build_parser() -> argparse.ArgumentParser:
    """The ``sg-lava`` parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="sg-lava",
        description="SpikingGamma networks: train in PyTorch, export to HDF5, run and verify on Lava.",
    )
    parser.add_argument("--version", action="version", version=f"sg-lava {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    smoke = sub.add_parser("smoke", help="run a tiny fixed-point Lava network (install check)")
    smoke.set_defaults(func=_cmd_smoke)
    return parser


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except UserError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sg-lava``."""
    return _dispatch(build_parser(), argv)


def build_export_parser() -> argparse.ArgumentParser:
    """The ``sg-export`` parser."""
    parser = argparse.ArgumentParser(
        prog="sg-export",
        description="Export a trained SpikingGamma model (model.pt) to a netx-style HDF5 file.",
    )
    parser.add_argument("--version", action="version", version=f"sg-lava {__version__}")
    return parser


def export_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sg-export``."""
    return _dispatch(build_export_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
