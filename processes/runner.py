"""Run samples through a Lava network built from a network file (no torch).

The builder (:mod:`sg_lava.processes.builder`) makes one compiled network for a batch of
samples; this module feeds it the inputs in the backend's units, collects every layer's
outputs with a progress bar, and stops the runtime on errors, Ctrl-C and SIGTERM. With
``workers > 1`` the samples are split into contiguous shards, each run by its own Lava
runtime in a forked process; the outputs come back in the samples' order, so a divergence
found in them names the global sample index. A failing shard or Ctrl-C stops every one.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import traceback
from collections.abc import Sequence

import numpy as np

from sg_lava.errors import UserError
from sg_lava.export.encoding import encode
from sg_lava.export.qnet import QuantizedNetwork
from sg_lava.export.readout import predict, readout_mask
from sg_lava.interrupts import raise_pending, stop_on_signals
from sg_lava.processes.builder import LavaNetwork

JOIN_S = 10.0  # seconds a stopped worker gets to close its Lava runtime before it is killed
# Cores one Lava runtime keeps busy: it is one process per Lava Process plus the runtime
# service, working in parallel within each step (bench/verify_workers.py measured 1.8 of
# 2 cores at the SHD shape, where a second runtime made verification 0.6-0.8x as fast).
CORES_PER_RUNTIME = 2


def default_workers() -> int:
    """One Lava runtime per :data:`CORES_PER_RUNTIME` cores, at least one."""
    return max(1, (os.cpu_count() or 1) // CORES_PER_RUNTIME)


def encode_inputs(qnet: QuantizedNetwork, x: np.ndarray, backend: str) -> np.ndarray:
    """Real-valued inputs (B, T, *input_shape) in the units the backend's first synapse takes:
    integers for the fixed-point backends, the same scale as reals for ``float``."""
    if backend == "float":  # the encoder in reals at the input scale
        spec = qnet.spec
        return encode(
            np.asarray(x, dtype=np.float64) * 2.0**spec.input_frac_bits,
            qnet.input_encoding,
            qnet.input_theta,
            qnet.input_mf / 2.0**spec.mf_bits,
            qnet.layers[0].neuron.decay[0] / 2.0**spec.decay_bits,
        )
    return qnet.encode_input(qnet.quantize_input(x))


def run_samples(
    qnet: QuantizedNetwork,
    xs: np.ndarray,
    backend: str = "fixed",
    progress: bool = False,
    workers: int = 1,
) -> list[np.ndarray]:
    """Run a batch of encoded samples (B, T, *input_shape); returns per layer (B, T, *shape).

    ``workers``: Lava runtimes in separate processes, each on a contiguous shard of samples.
    """
    from tqdm import tqdm

    if workers < 1:
        raise UserError("--workers must be at least 1")
    shards = [s for s in np.array_split(np.arange(len(xs)), min(workers, len(xs))) if len(s)]
    with tqdm(total=len(xs), desc="Lava", unit="sample", disable=not progress) as bar:
        if len(shards) <= 1:
            outs = list(_samples(qnet, xs, backend, bar.update))
        else:
            outs = _run_shards(qnet, xs, backend, shards, bar.update)
    return [np.stack([o[i] for o in outs]) for i in range(len(qnet.layers))]


def _samples(qnet: QuantizedNetwork, xs: np.ndarray, backend: str, tick):
    with stop_on_signals(), LavaNetwork(qnet, xs, backend) as net:
        for res in net:
            raise_pending()  # a signal that arrived while Lava forked its processes
            tick(1)
            yield res


def _worker(qnet, xs, backend, shard: int, results) -> None:
    """One shard in one Lava runtime; reports ticks, then its outputs or its error.

    While its runtime runs, SIGTERM from the parent stops it cleanly (``_samples``); once
    its result is sent it may simply be killed, so SIGTERM then ends it without a word.
    """
    try:
        outs = list(_samples(qnet, xs, backend, lambda n: results.put(("tick", shard, n))))
        results.put(("done", shard, outs))
    except KeyboardInterrupt:
        results.put(("error", shard, "interrupted"))
    except BaseException as err:  # noqa: BLE001  (reported to the parent, which raises)
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        results.put(("error", shard, last))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_shards(qnet, xs, backend, shards, tick) -> list[list[np.ndarray]]:
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(qnet, xs[idx], backend, k, results), daemon=False)
        for k, idx in enumerate(shards)
    ]
    done: dict[int, list] = {}
    with stop_on_signals():  # SIGTERM too reaches the finally below
        _collect(procs, shards, results, done, tick)
    return [o for k in range(len(procs)) for o in done[k]]


def _collect(procs, shards, results, done: dict[int, list], tick) -> None:
    """Start the workers, pass on their ticks, keep their outputs; stop all on any failure."""
    try:
        for p in procs:
            p.start()
        while len(done) < len(procs):
            try:
                kind, shard, payload = results.get(timeout=1.0)
            except queue.Empty:
                dead = [k for k, p in enumerate(procs) if k not in done and not p.is_alive()]
                if dead and results.empty():
                    raise UserError(
                        f"Lava shard {dead[0] + 1}/{len(procs)} (samples "
                        f"{shards[dead[0]][0]}..{shards[dead[0]][-1]}) exited without a result"
                    ) from None
                continue
            if kind == "tick":
                tick(payload)
            elif kind == "done":
                done[shard] = payload
            else:
                first, last = shards[shard][0], shards[shard][-1]
                if payload == "interrupted":
                    raise KeyboardInterrupt
                raise UserError(
                    f"Lava shard {shard + 1}/{len(procs)} (samples {first}..{last}) "
                    f"failed: {payload}"
                )
    finally:
        _stop(procs)
        results.close()
        results.join_thread()


def _stop(procs) -> None:
    """Stop every worker (SIGTERM: its runtime closes), kill what does not end, reap all.

    Workers that have sent their result get a moment to exit on their own first.
    """
    for p in procs:
        if p.pid is not None:
            p.join(0.5)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        if p.pid is None:
            continue
        p.join(JOIN_S)
        if p.is_alive():
            p.kill()
            p.join()


def readout_of(
    qnet: QuantizedNetwork, outs: list[np.ndarray], lengths: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The classes of a run: the file's readout window on the output (delayed by the
    network's latency), the output summed over it in real units (``scores``) and its argmax
    (``predictions``); empty when the file records no window rule (``task``, or none)."""
    if qnet.readout in (None, "task"):
        return {}
    out = outs[-1]
    n, steps = out.shape[:2]
    window = np.zeros((n, steps), dtype=bool)
    window[:, qnet.latency :] = readout_mask(qnet.readout, n, steps - qnet.latency, lengths)
    scores = (out * window[..., None]).sum(1) / 2.0 ** qnet.layers[-1].frac_bits
    return {"window": window, "scores": scores, "predictions": predict(out, window)}


def save_outputs(
    path: str,
    qnet: QuantizedNetwork,
    outs: list[np.ndarray],
    inputs: Sequence[str] = (),
    classes: dict[str, np.ndarray] | None = None,
) -> None:
    """Write ``sg-lava run``'s archive (its format: ``docs/format.md``): ``layer_i`` per
    layer, ``output`` (the last layer), ``latency``, every layer's ``frac_bits``, the
    ``readout`` setting and the ``classes`` of :func:`readout_of`; atomically, never over one
    of the command's ``inputs``."""
    import io

    from sg_lava.files import atomic_write

    arrays = {f"layer_{i}": a for i, a in enumerate(outs)}
    arrays["output"] = outs[-1]
    arrays["latency"] = np.array(qnet.latency)
    arrays["frac_bits"] = np.array([L.frac_bits for L in qnet.layers])
    arrays["readout"] = np.array("none" if qnet.readout is None else str(qnet.readout))
    arrays.update(classes or {})
    buf = io.BytesIO()  # zipped in memory: a full disk fails in atomic_write, cleanly
    np.savez(buf, **arrays)
    atomic_write(path, lambda f: f.write(buf.getbuffer()), inputs)
