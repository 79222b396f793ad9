"""The top-level Python API: lazy, torch-free on import, and the docs' example runs."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_python

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def plain_signature(obj) -> str:
    """``(a, b=1, *, c=None)``: the signature as the docs write it, without annotations."""
    sig = inspect.signature(obj)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def test_import_sg_lava_loads_neither_torch_nor_lava_until_asked():
    code = (
        "import sys, sg_lava\n"
        "heavy = lambda: sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lava'))\n"
        "assert heavy() == [], heavy()\n"
        "missing = [n for n in sg_lava.__all__ if n not in dir(sg_lava)]\n"
        "assert not missing, missing\n"
        "import sg_lava.export.hdf5\n"
        "from sg_lava.export import hdf5\n"
        "assert sg_lava.export.__module__ == 'sg_lava.api' and heavy() == [], heavy()\n"
        "assert hdf5.read.__module__ == 'sg_lava.export.hdf5'\n"
        "assert sg_lava.GammaNetwork.__name__ == 'GammaNetwork' and 'torch' in sys.modules\n"
        "try:\n    sg_lava.nothing\nexcept AttributeError as e:\n    print(e)\n"
    )
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    assert "no attribute 'nothing'" in res.stdout


def test_the_api_is_plain_functions_with_the_signatures_docs_api_md_gives():
    import sg_lava

    doc = DOC.read_text()
    for name in sg_lava.__all__:
        if name == "__version__":
            continue
        obj = getattr(sg_lava, name)
        assert inspect.isfunction(obj) or inspect.isclass(obj), name
        assert f"`sg_lava.{name}{plain_signature(obj)}`" in doc, (name, plain_signature(obj))
    documented = set(re.findall(r"`sg_lava\.(\w+)\(", doc))
    assert documented <= set(sg_lava.__all__), documented - set(sg_lava.__all__)


def test_quantize_takes_its_options_by_keyword_only(tmp_path):
    import sg_lava
    from tests.helpers import dense_net

    with pytest.raises(TypeError):
        sg_lava.quantize(dense_net([2, 3]), None)  # the old positional mix-up
    qnet, reports = sg_lava.quantize(dense_net([2, 3]))
    assert len(qnet.layers) == len(reports) == 1


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
