"""The ``sg-lava`` and ``sg-export`` parsers: one sub-command per module of this package."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from sg_lava import __version__
from sg_lava.cli import convert, deploy, files, lava, train
from sg_lava.cli.base import HelpFormatter, Parser, guarded, use_threads

# Each module registers its commands on the sub-parsers (``register(sub)``), in help order.
COMMANDS = (lava, train, deploy, files, convert)


def build_parser() -> argparse.ArgumentParser:
    """The ``sg-lava`` parser with one sub-parser per command."""
    parser = Parser(
        prog="sg-lava",
        description="SpikingGamma networks: train in PyTorch, export to HDF5, run and verify on "
        "Lava. Each command has its own --help, with an example.",
        epilog="example:\n  sg-lava train delay --out model.pt && sg-export model.pt net.h5 "
        "&& sg-lava verify model.pt net.h5",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sg-lava {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def build_export_parser() -> argparse.ArgumentParser:
    """The ``sg-export`` parser."""
    parser = Parser(
        prog="sg-export",
        description=f"{deploy.EXPORT_SUMMARY} (= sg-lava export).\n\n{deploy.EXPORT_DESCRIPTION}",
        epilog="examples:\n" + "\n".join(f"  {e}" for e in deploy.EXPORT_EXAMPLES.splitlines()),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sg-lava {__version__}")
    deploy.add_export_args(parser)
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the command it names, guarded."""
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    use_threads(args)
    return guarded(parser.prog, lambda: func(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sg-lava``."""
    return dispatch(build_parser(), argv)


def export_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sg-export``."""
    return dispatch(build_export_parser(), argv)
