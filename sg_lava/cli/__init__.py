"""The command line: ``sg-lava <command>`` and ``sg-export``, and nothing else.

Every parser lives in this package, one module per group of commands (each has
``register(sub)``); library modules raise :class:`sg_lava.errors.UserError` and never
import it. Expected failures are one line on stderr and a non-zero exit
(:func:`sg_lava.cli.base.guarded`).
"""

from sg_lava.cli.app import build_export_parser, build_parser, export_main, main

__all__ = ["build_export_parser", "build_parser", "export_main", "main"]
