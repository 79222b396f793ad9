"""Shared fixtures. Importing sg_lava first installs the Lava compat hooks."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sg_lava  # noqa: F401


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (clean ``sys.modules``)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.fixture
def fresh_python():
    return run_python


def pytest_terminal_summary(terminalreporter) -> None:
    """What the documents' test ran and left out, and why (tests/test_docs.py)."""
    docs = sys.modules.get("tests.test_docs")
    for line in getattr(docs, "REPORT", []):
        terminalreporter.write_line(line)
