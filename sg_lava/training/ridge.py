"""``--mode ridge``: hidden layers set from the data, the output layer fitted in closed form.

For small sets of real-valued recordings (tens of samples), gradient descent on the
paper's initialisation learns slowly and overfits the few samples (``docs/real_data.md``
has the measurements); a ROCKET-like recipe of the same network does better:

1. :func:`data_init` — every hidden layer in turn: each neuron's readout without its bias
   (over all training samples and steps) is scaled to unit standard deviation (its row of
   ``W``), and its bias set so that it is active in a share ``1 - q`` of the steps, ``q``
   drawn uniformly from ``quantiles``: the hidden layer becomes a bank of varied, gamma-filtered
   detectors of the input.
2. :func:`fit_readout` — the output layer (per-synapse bucket weights) computes
   ``x_o(t) = sum_{j,k} (W V^k)_{oj} B^k_j(t) + b_o``, linear in its parameters, so the class
   score summed over the readout window is a linear function of the window sums
   ``S^k_j = sum_t B^k_j(t)`` of its presynaptic buckets. Ridge regression of one-hot ``+-1``
   targets on the centred ``S``, all scaled by one factor (so that the penalty keeps the raw
   weights in a range the export's 8-bit grid holds), with the penalty chosen by the
   closed-form leave-one-out error on the training data alone, gives the classifier; folded back into ``V`` (``W = 1``) and
   ``b``, the network computes it exactly, in float and, exported, in integers.

No gradient, no epochs, no test data: the training split alone decides everything.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sg_lava.errors import UserError
from sg_lava.model.network import GammaNetwork
from sg_lava.model.timing import pad_steps, shift_mask
from sg_lava.training.budget import check_training_memory

LAMBDAS = tuple(10.0**e for e in np.arange(-3, 4.01, 0.5))
QUANTILES = (0.7, 0.95)  # hidden neurons active in 5-30 % of the steps
MAX_VALUES = 200_000  # readout values per neuron that data_init looks at
BATCH = 256  # samples whose buckets fit_readout holds at once


@torch.no_grad()
def layer_buckets(net: GammaNetwork, x: Tensor, index: int) -> Tensor:
    """The presynaptic buckets (n, T + latency, K, *in_shape) of gamma layer ``index`` on
    inputs ``x`` (n, T, ...), at every step of a run in the network's own timing."""
    x = net.encode_input(pad_steps(x, net.latency))
    states = net.initial_state(x.shape[0], x.device)
    seen = []
    with net.held_parameters():
        for t in range(x.shape[1]):
            _, states = net.step(x[:, t], states)
            seen.append(states[index].buckets)
    return torch.stack(seen, 1)


@torch.no_grad()
def data_init(
    net: GammaNetwork, x: Tensor, seed: int = 0, quantiles: tuple[float, float] = QUANTILES
) -> None:
    """Scale and bias every hidden layer of ``net`` from training inputs ``x`` (step 1)."""
    g = torch.Generator().manual_seed(seed)
    x = x[: max(1, MAX_VALUES // max(1, x.shape[1]))]
    layers = net.gamma_layers
    for i, layer in enumerate(layers[:-1]):
        first = i + 1 if net.timing == "lava" else 0  # the step the layer's first input arrives
        buckets = layer_buckets(net, x, i)[:, first : first + x.shape[1]]
        z = layer.presynaptic_readout(buckets.flatten(0, 1)) - layer.channel_view(layer.bias)
        z = z.transpose(0, 1).reshape(z.shape[1], -1)  # per channel
        scale = 1.0 / z.std(1).clamp(min=1e-6)
        layer.weight.mul_(scale.view(-1, *(1,) * (layer.weight.dim() - 1)))
        z = z * scale.unsqueeze(1)
        q = quantiles[0] + (quantiles[1] - quantiles[0]) * torch.rand(len(z), generator=g)
        sample = z[:, torch.randperm(z.shape[1], generator=g)[:20_000]]
        bias = [torch.quantile(row, float(p)) for row, p in zip(sample, q)]
        layer.bias.copy_(-torch.stack(bias))


def loo_ridge(A: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Ridge of centred ``Y`` on centred ``A`` with the penalty of least leave-one-out
    squared error (dual form, one eigendecomposition): (coefficients, lambda, its error)."""
    s, U = np.linalg.eigh(A @ A.T)
    s = np.clip(s, 0, None)
    UtY = U.T @ Y
    errors = {}
    for lam in LAMBDAS:
        h = s / (s + lam)
        fit = U @ (h[:, None] * UtY)
        leverage = (U**2) @ h + 1.0 / len(A)  # the intercept's too (centred data)
        loo = (Y - fit) / (1 - leverage)[:, None].clip(1e-9)
        errors[lam] = float((loo**2).mean())
    best = min(errors, key=lambda k: (round(errors[k], 12), -k))
    return A.T @ (U @ (UtY / (s + best)[:, None])), best, errors[best]


@torch.no_grad()
def fit_readout(net: GammaNetwork, data) -> dict:
    """Set the output layer to the ridge classifier of its window sums on ``data`` (step 2)."""
    layer = net.gamma_layers[-1]
    if not layer.per_synapse:
        raise UserError(
            "--mode ridge fits the output layer in closed form, which needs per-synapse bucket "
            "weights there: set per_synapse = true in the last [[layers]] of net.toml"
        )
    sums, labels, steps = [], [], []
    for x, y, mask in data.batches(BATCH):
        m = shift_mask(mask, net.latency).to(x.dtype)
        sums.append((layer_buckets(net, x, -1) * m[:, :, None, None]).sum(1))
        labels.append(y)
        steps.append(mask.sum(1))
    S = torch.cat(sums).double()  # (n, K, H)
    n, K, H = S.shape
    X = S.reshape(n, -1).numpy()
    mean = X.mean(0)
    # one scale for all features: the penalty acts on the raw weights, which then span a
    # range 8-bit mantissas hold (per-feature scales zeroed 43-62 % of them on export, and
    # the exported accuracy of ItalyPowerDemand fell to chance)
    std = X.std(0)
    std = np.full_like(std, float(np.sqrt((np.where(std > 1e-12, std, 1.0) ** 2).mean())))
    C = data.n_classes
    Y = np.eye(C)[torch.cat(labels).numpy()] * 2 - 1
    ym = Y.mean(0)
    coef, lam, loo = loo_ridge((X - mean) / std, Y - ym)
    w = coef / std[:, None]  # on the raw sums
    window = float(torch.cat(steps).double().mean())  # steps per window (mean, unequal lengths)
    V = torch.as_tensor(w.T.reshape(C, K, H).transpose(1, 0, 2).copy())  # (K, C, H)
    layer.weight.fill_(1.0)
    layer.bucket_weight.copy_(V.to(layer.bucket_weight.dtype))
    layer.bias.copy_(torch.as_tensor((ym - mean @ w) / window, dtype=layer.bias.dtype))
    return {"lambda": lam, "loo_mse": loo, "features": K * H}


def train_ridge(net: GammaNetwork, data, seed: int) -> dict:
    """Steps 1 and 2 on a training split held in memory; returns the history entry. Its
    memory is counted first: batches of :data:`BATCH` samples hold every step's buckets."""
    check_training_memory(net, len(data), data.steps, BATCH, "ridge")
    if not hasattr(data, "x"):  # streamed data: the closed form needs the samples together
        data = data.head(len(data))
    net.eval()
    data_init(net, data.x, seed)
    return {"epoch": 1, **fit_readout(net, data)}
