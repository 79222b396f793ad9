"""Every command explains itself (--help: description, example, defaults), and every command
that computes takes --threads, one thread unless told otherwise."""

from __future__ import annotations

import argparse
import os

import pytest

from sg_lava.cli.app import build_export_parser, build_parser
from sg_lava.cli.examples import dataset_parser, example_parser
from sg_lava.threads import DEFAULT_THREADS, resolve_threads, set_threads

COMPUTING = ("train", "export", "evaluate", "verify", "plan", "demo")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every (nested) sub-command's parser by its path, e.g. ``convert tonic``."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in subcommands(sub).items()})
    return found


def parsers() -> dict[str, argparse.ArgumentParser]:
    return {
        **subcommands(build_parser()),
        "sg-export": build_export_parser(),
        "example": example_parser("An example.\n\n    python x.py", "runs/x"),
        "dataset example": dataset_parser("A dataset.\n\n    python y.py --data D", "runs/y", 64),
    }


@pytest.mark.parametrize("name", sorted(set(subcommands(build_parser())) | {"sg-export"}))
def test_help_has_a_description_an_example_and_every_default(name):
    parser = parsers()[name]
    text = parser.format_help()
    assert parser.description and len(parser.description) > 20, name
    assert "example" in (parser.epilog or ""), name
    for action in parser._actions:
        quiet = any(action.default is v for v in (None, False, argparse.SUPPRESS))
        if not action.option_strings or quiet:
            continue
        assert action.help, (name, action.option_strings)
        shown = parser._get_formatter()._get_help_string(action) % {"default": action.default}
        assert "default" in shown, (name, action.option_strings, shown)
        assert str(action.option_strings[-1]) in text


def test_every_computing_command_and_example_takes_threads():
    all_parsers = parsers()
    for name in (*COMPUTING, "sg-export", "example", "dataset example"):
        options = {o for a in all_parsers[name]._actions for o in a.option_strings}
        assert "--threads" in options, name


def test_one_thread_unless_told(monkeypatch):
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert resolve_threads() == DEFAULT_THREADS == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert resolve_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert resolve_threads() == 1
    before = torch.get_num_threads()
    try:
        assert set_threads(2) == 2
        assert torch.get_num_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "2"
    finally:
        torch.set_num_threads(before)


def test_threads_reach_a_process_before_torch_loads(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from sg_lava.cli.base import use_threads; import argparse\n"
        "use_threads(argparse.Namespace(threads=None)); assert 'torch' not in sys.modules\n"
        "import torch; print(torch.get_num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1"
