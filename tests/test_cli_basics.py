"""The console scripts exist and answer --help."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)


@pytest.mark.parametrize("script", ["sg-lava", "sg-export"])
def test_console_script_help(script):
    res = subprocess.run([os.path.join(BIN, script), "--help"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "usage:" in res.stdout
