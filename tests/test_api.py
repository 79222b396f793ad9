"""The top-level Python API: lazy, torch-free on import, seeded, checked at the boundary
(docs/api.md's example runs in tests/test_docs.py)."""

from __future__ import annotations

import inspect
import re
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


TASK = dict(steps=30, delay=6, margin=3, max_delay=12)
CONFIG = {
    "input_shape": [2],
    "layers": [{"type": "dense", "out_features": 8}, {"type": "dense", "out_features": 3}],
    "K": 4,
    "theta0": 1.0,
}


def small_run(seed: int, **data_kw):
    import sg_lava
    from sg_lava.data.tasks import delay_detection

    data = delay_detection(64, seed=1, **TASK)
    for k, v in data_kw.items():
        setattr(data, k, v)
    cfg = sg_lava.TrainConfig(epochs=2, batch_size=32, lr=0.02, seed=seed, device="cpu")
    return sg_lava.train(CONFIG, data, cfg, progress=False)


def test_train_config_seed_fixes_the_weights_too():
    import torch

    torch.manual_seed(123)  # the global generator's state must not matter
    a = small_run(seed=0)
    torch.manual_seed(456)
    b = small_run(seed=0)
    c = small_run(seed=1)
    assert [e["loss"] for e in a.history] == [e["loss"] for e in b.history]
    assert all(torch.equal(v, b.net.state_dict()[k]) for k, v in a.net.state_dict().items())
    assert [e["loss"] for e in a.history] != [e["loss"] for e in c.history]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"mask": "float"}, "data.mask must be (64, 30) bool"),
        ({"y": "high"}, "data.y must lie in [0, 3), found 1..7"),
        ({"x": "wide"}, "data.x has shape (64, 30, 3); the network takes (n, T, 2)"),
        ({"n_classes": 4}, "data has 4 classes but the network reads out 3"),
    ],
)
def test_train_refuses_bad_data_in_one_line_before_training(change, message):
    from sg_lava.data.tasks import delay_detection
    from sg_lava.errors import UserError

    data = delay_detection(64, seed=1, **TASK)
    values = {
        "float": data.mask.float(),
        "high": data.y * 3 + 1,
        "wide": data.x.new_zeros(64, 30, 3),
    }
    kw = {k: values.get(v, v) for k, v in change.items()}
    with pytest.raises(UserError) as err:
        small_run(seed=0, **kw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_predict_reads_out_the_window_the_data_carries_or_the_second_half():
    import numpy as np
    import torch

    import sg_lava
    from sg_lava.data.tasks import delay_detection
    from sg_lava.model.readout import readout_mask
    from sg_lava.model.timing import pad_steps, predict, shift_mask
    from sg_lava.training.loop import float_accuracy

    net = small_run(seed=0).net
    data = delay_detection(40, seed=5, **TASK)
    got = sg_lava.predict(net, data)
    assert got.shape == (40,) and got.dtype == np.int64
    assert np.mean(got == data.y.numpy()) == float_accuracy(net, data)
    with torch.no_grad():
        out = net(pad_steps(data.x, net.latency))
    half = readout_mask(net, 40, 30)
    assert half[:, :15].sum() == 0 and bool(half[:, 15:].all())
    plain = sg_lava.predict(net, data.x.numpy())  # an array: the second half
    assert np.array_equal(plain, predict(out, shift_mask(half, net.latency)).numpy())
    assert np.array_equal(sg_lava.predict(net, data.x[3]), plain[3:4])  # one sample
    assert repr(net.layers[0]) == "GammaDense(2 -> 8, K=4)"


def test_predict_and_evaluate_take_a_network_or_its_file(tmp_path):
    import numpy as np

    import sg_lava
    from sg_lava.data.tasks import delay_detection
    from sg_lava.errors import UserError

    net = small_run(seed=0).net
    data = delay_detection(32, seed=5, **TASK)
    sg_lava.save_model(net, tmp_path / "m.pt", samples={"calibration": data.x})
    assert np.array_equal(sg_lava.predict(tmp_path / "m.pt", data), sg_lava.predict(net, data))
    qnet, _ = sg_lava.quantize(net, calibration=data.x)
    from_memory = sg_lava.evaluate(net, qnet, data)
    sg_lava.export(tmp_path / "m.pt", tmp_path / "n.h5", allow_saturation=True)
    from_files = sg_lava.evaluate(tmp_path / "m.pt", tmp_path / "n.h5", data)
    assert from_memory["float_accuracy"] == from_files["float_accuracy"]
    assert from_memory["file_differs"] == [] and from_files["file_differs"] == []
    with pytest.raises(UserError, match="expected \\(batch, T, 2\\)"):
        sg_lava.predict(net, np.zeros((2, 30, 5)))


@pytest.mark.slow
def test_verify_takes_networks_in_memory_with_inputs(tmp_path):
    import sg_lava
    from sg_lava.data.tasks import delay_detection
    from sg_lava.errors import UserError

    net = small_run(seed=0).net
    x = delay_detection(3, seed=5, **TASK).x
    qnet, _ = sg_lava.quantize(net, calibration=x)
    res = sg_lava.verify(net, qnet, inputs=x)
    assert res.ok and res.total > 0 and res.samples == 3
    with pytest.raises(UserError, match="records no task: give inputs"):
        sg_lava.verify(net, qnet)
