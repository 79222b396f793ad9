"""Small builders shared by the tests."""

from __future__ import annotations

import torch

from sg_lava.model.network import GammaNetwork


def dense_net(sizes, K=3, per_synapse=False, timing="lava", seed=0, theta0=0.1):
    torch.manual_seed(seed)
    layers = [{"type": "dense", "out_features": n} for n in sizes[1:]]
    return GammaNetwork(
        {
            "input_shape": [sizes[0]],
            "layers": layers,
            "K": K,
            "per_synapse": per_synapse,
            "timing": timing,
            "theta0": theta0,
        }
    )


def conv_net(K=3, per_synapse=False, timing="lava", seed=0, pool=True):
    torch.manual_seed(seed)
    layers = [{"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1}]
    if pool:
        layers.append({"type": "pool", "kernel_size": 2})
    layers += [
        {"type": "conv", "out_channels": 3, "kernel_size": 3, "stride": 1},
        {"type": "flatten"},
        {"type": "dense", "out_features": 3},
    ]
    return GammaNetwork(
        {
            "input_shape": [2, 8, 8],
            "layers": layers,
            "K": K,
            "per_synapse": per_synapse,
            "timing": timing,
        }
    )


def events(shape, T, p=0.3, batch=4, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, T, *shape, generator=g) < p).to(dtype)


def write_hsd(data, name="shd", split="train", n=20, n_classes=4, seed=0, duration=0.5):
    """A small dataset in the real SHD/SSC HDF5 layout (and the .zip tonic also checks).

    Class c fires channels 100c..100c+50 early and 400+50c.. late, so it is learnable.
    """
    import zipfile
    from pathlib import Path

    import h5py
    import numpy as np

    rng = np.random.default_rng(seed)
    folder = Path(data) / name.upper()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_{split}.h5"
    labels = np.arange(n) % n_classes
    times, units = [], []
    for c in labels:
        k = 60
        u = np.concatenate(
            [rng.integers(100 * c, 100 * c + 50, k), rng.integers(400 + 50 * c, 450 + 50 * c, k)]
        )
        t = np.concatenate(
            [rng.uniform(0, duration / 2, k), rng.uniform(duration / 2, duration, k)]
        )
        order = np.argsort(t)
        times.append(t[order].astype(np.float32))
        units.append(u[order].astype(np.uint16))

    def ragged(arrays):
        out = np.empty(len(arrays), dtype=object)
        out[:] = arrays
        return out

    with h5py.File(path, "w") as h:
        h.create_dataset("spikes/times", data=ragged(times), dtype=h5py.vlen_dtype(np.float32))
        h.create_dataset("spikes/units", data=ragged(units), dtype=h5py.vlen_dtype(np.uint16))
        h.create_dataset("labels", data=labels.astype(np.uint16))
        h.create_dataset(
            "extra/keys", data=np.array([f"word{i}".encode() for i in range(n_classes)])
        )
        h.create_dataset("extra/speaker", data=rng.integers(0, 10, n).astype(np.uint16))
    with zipfile.ZipFile(folder / f"{path.name}.zip", "w") as z:
        z.write(path, path.name)
    return path


def write_dvs_gesture(data, train=True, users=10, classes=11, events=300, seed=0):
    """A small DVS Gesture tree in tonic's extracted layout: <user>_<lighting>/<label>.npy
    holding (N, 4) int arrays of x, y, polarity, t (µs). Class c moves a blob to a
    class-specific corner, so it is learnable."""
    import tarfile
    from pathlib import Path

    import numpy as np

    rng = np.random.default_rng(seed)
    name = "ibmGestureTrain" if train else "ibmGestureTest"
    root = Path(data) / "DVSGesture"
    for u in range(users):
        folder = root / name / f"user{u + 1:02d}_fluorescent"
        folder.mkdir(parents=True, exist_ok=True)
        for c in range(classes):
            cx, cy = 20 + 8 * c, 110 - 8 * c
            x = np.clip(rng.normal(cx, 6, events), 0, 127).astype(np.int64)
            y = np.clip(rng.normal(cy, 6, events), 0, 127).astype(np.int64)
            p = rng.integers(0, 2, events)
            t = np.sort(rng.integers(0, 1_000_000, events))
            np.save(folder / f"{c}.npy", np.stack([x, y, p, t], 1))
    with tarfile.open(root / f"{name}.tar.gz", "w:gz") as tar:
        tar.add(
            root / name / "user01_fluorescent" / "0.npy", arcname=f"{name}/user01_fluorescent/0.npy"
        )
    return root


NET_TOML = """\
input_shape = [{n_in}]
K = 3
theta0 = 0.5

[[layers]]
type = "dense"
out_features = 8

[[layers]]
type = "dense"
out_features = 2
"""


def write_user_npz(folder, n_train=48, n_test=12, T=12, channels=3, seed=0):
    """train.npz/test.npz of a learnable 2-class task: class c fires channel c more often."""
    from pathlib import Path

    import numpy as np

    rng = np.random.default_rng(seed)
    Path(folder).mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        y = np.arange(n) % 2
        x = rng.random((n, T, channels)) < 0.1
        x[np.arange(n), :, y] |= rng.random((n, T)) < 0.6
        np.savez(Path(folder) / f"{split}.npz", x=x.astype(np.float32), y=y)


def user_events(n, seed=0, width=4, polarities=2, k=40):
    """Learnable 2-class events (t, x, p) on a (width, 1, polarities) sensor, and labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    dtype = np.dtype([("t", np.int64), ("x", np.int16), ("p", np.int8)])
    labels = np.arange(n) % 2
    samples = []
    for c in labels:
        ev = np.zeros(k, dtype)
        own = c * (width // 2) + rng.integers(0, width // 2, k)
        ev["x"] = np.where(rng.random(k) < 0.8, own, rng.integers(0, width, k))
        ev["t"] = np.sort(rng.integers(0, 100_000, k))
        ev["p"] = rng.integers(0, polarities, k)
        samples.append(ev)
    return samples, labels


def write_user_events(folder, n_train=48, n_test=12, seed=0):
    """train.h5/test.h5 in the events layout of docs/data.md (sensor (4, 1, 2))."""
    from pathlib import Path

    from sg_lava.data.userdata import write_events

    Path(folder).mkdir(parents=True, exist_ok=True)
    for i, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        samples, labels = user_events(n, seed=seed + i)
        write_events(Path(folder) / f"{split}.h5", zip(samples, labels), (4, 1, 2))


def spread_copies(net, factor=4.0):
    """Scale each per-synapse layer's bucket weights V^k by ``factor**-k``: the K weight
    copies W * V^k then span K grids, as trained delay-precise models' copies do."""
    with torch.no_grad():
        for m in net.gamma_layers:
            if m.per_synapse:
                scale = factor ** -torch.arange(m.K, dtype=m.bucket_weight.dtype)
                m.bucket_weight.mul_(scale.view(-1, *[1] * (m.bucket_weight.dim() - 1)))
    return net
