"""The top-level Python API: lazy, torch-free on import, and the docs' example runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_python

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
NAMES = (
    "GammaNetwork train quantize FixedNetwork save_model load_model export read_network "
    "evaluate verify"
).split()


def test_import_sg_lava_loads_neither_torch_nor_lava_until_asked():
    code = (
        "import sys, sg_lava\n"
        "heavy = lambda: sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lava'))\n"
        "assert heavy() == [], heavy()\n"
        f"missing = [n for n in {NAMES!r} if n not in dir(sg_lava)]\n"
        "assert not missing, missing\n"
        "import sg_lava.export.hdf5\n"
        "assert callable(sg_lava.export) and heavy() == [], heavy()\n"
        "assert sg_lava.GammaNetwork.__name__ == 'GammaNetwork' and 'torch' in sys.modules\n"
        "assert sg_lava.read_network is sg_lava.export.hdf5.read\n"
        "import sg_lava.verify, sg_lava.quantize\n"
        "assert callable(sg_lava.verify) and callable(sg_lava.quantize)\n"
        "try:\n    sg_lava.nothing\nexcept AttributeError as e:\n    print(e)\n"
    )
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    assert "no attribute 'nothing'" in res.stdout


@pytest.mark.slow
def test_the_example_in_docs_api_md_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1
    res = subprocess.run(
        [sys.executable, "-c", blocks[0]], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "spike events identical" in res.stdout
    assert (tmp_path / "net.h5").is_file() and (tmp_path / "model.pt").is_file()
