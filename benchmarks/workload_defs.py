"""The GAN workloads of gan_workloads.py: models, inputs, training steps and FLOP counts.

Each workload is written once against :class:`Framework`, a small adapter over
``torch.nn`` / ``tapegrad.nn`` (same names), so both sides run the same
architecture and wiring. PyTorch initialises the weights, tapegrad loads them
with ``load_state_dict``, and both consume the same pre-generated NumPy inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

WORKLOADS = ("mlp_gan_b64", "mlp_gan_b512", "dcgan28", "cnn", "wgan_gp", "lstm")
BATCH = {
    "mlp_gan_b64": 64, "mlp_gan_b512": 512, "dcgan28": 64, "cnn": 64, "wgan_gp": 64, "lstm": 64
}  # fmt: skip
N_CRITIC = 5
GP_LAMBDA = 10.0
N_INPUT_SETS = 4  # pre-generated input sets, used in turn
LSTM_STEPS, LSTM_INPUT, LSTM_HIDDEN, LSTM_CLASSES = 28, 28, 128, 10


# ------------------------------------------------------------------ framework adapter
class Framework:
    """The few calls where tapegrad and PyTorch differ; everything else is shared code.

    ``name`` is ``"tapegrad"`` or ``"torch"``. Importing happens here, so a process that
    builds only the tapegrad side never imports torch.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "torch":
            import torch
            import torch.nn.functional as F

            self.lib = torch
            self.nn, self.optim = torch.nn, torch.optim
            self.tensor = torch.from_numpy
            self.bce_logits = F.binary_cross_entropy_with_logits
            self.cross_entropy = F.cross_entropy
            self.grad = torch.autograd.grad
            self.manual_seed = torch.manual_seed
        elif name == "tapegrad":
            import tapegrad

            self.lib = tapegrad
            self.nn, self.optim = tapegrad.nn, tapegrad.optim
            self.tensor = tapegrad.Tensor
            self.bce_logits = tapegrad.binary_cross_entropy_with_logits
            self.cross_entropy = tapegrad.cross_entropy
            self.grad = tapegrad.grad
            self.manual_seed = tapegrad.manual_seed
        else:
            raise ValueError(f"unknown framework {name!r}; expected 'tapegrad' or 'torch'")

    @staticmethod
    def to_numpy(t: Any) -> np.ndarray:
        """A NumPy copy of a tensor of either framework."""
        return np.array(t.detach().numpy(), copy=True)


# ------------------------------------------------------------------ models
def mlp_gan_models(nn: Any) -> dict[str, Any]:
    """G: z (B, 100) -> (B, 784) in [-1, 1]; D: (B, 784) -> logits (B, 1)."""
    G = nn.Sequential(nn.Linear(100, 128), nn.LeakyReLU(0.2), nn.Linear(128, 784), nn.Tanh())
    D = nn.Sequential(
        nn.Linear(784, 128), nn.LeakyReLU(0.2),
        nn.Linear(128, 64), nn.LeakyReLU(0.2),
        nn.Linear(64, 1),
    )  # fmt: skip
    return {"G": G, "D": D}


def dcgan28_models(nn: Any) -> dict[str, Any]:
    """G: z (B, 100) -> images (B, 1, 28, 28); D: images -> logits (B, 1).

    The batch norm after G's Linear runs on the reshaped (B, 128, 7, 7) map (BatchNorm2d),
    the usual DCGAN form. The two convolutions followed by a batch norm have no bias, as in
    DCGAN: the norm removes it, so its gradient is zero up to rounding and Adam's first step
    (about ``lr * sign(grad)``) would move it by rounding noise, differently on each side.
    """
    G = nn.Sequential(
        nn.Linear(100, 128 * 7 * 7), nn.Unflatten(1, (128, 7, 7)),
        nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),
    )  # fmt: skip
    D = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1),
    )  # fmt: skip
    return {"G": G, "D": D}


def cnn_models(nn: Any) -> dict[str, Any]:
    """The MNIST CNN (examples/mnist_classifiers.py): (B, 1, 28, 28) -> logits (B, 10)."""
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10),
    )  # fmt: skip
    return {"net": net}


def lstm_models(nn: Any) -> dict[str, Any]:
    """A one-layer LSTM over (B, 28, 28) rows (batch first) and a linear head on its last
    hidden state: (B, 28, 28) -> logits (B, 10)."""
    return {
        "lstm": nn.LSTM(LSTM_INPUT, LSTM_HIDDEN, batch_first=True),
        "head": nn.Linear(LSTM_HIDDEN, LSTM_CLASSES),
    }


def lstm_cell_models(nn: Any) -> dict[str, Any]:
    """The same network with an ``LSTMCell`` stepped in a Python loop (PyTorch reference)."""
    return {
        "lstm": nn.LSTMCell(LSTM_INPUT, LSTM_HIDDEN),
        "head": nn.Linear(LSTM_HIDDEN, LSTM_CLASSES),
    }


MODELS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "mlp_gan_b64": mlp_gan_models,
    "mlp_gan_b512": mlp_gan_models,
    "dcgan28": dcgan28_models,
    "cnn": cnn_models,
    "wgan_gp": mlp_gan_models,
    "lstm": lstm_models,
}


# ------------------------------------------------------------------ inputs
def make_inputs(name: str, batch: int, seed: int = 0, n: int = N_INPUT_SETS) -> list[dict]:
    """``n`` sets of float32 NumPy inputs for one iteration of workload ``name``.

    Real data is uniform in [-1, 1] (timing does not need MNIST); noise is standard normal;
    WGAN-GP's interpolation weights are U(0, 1), one per sample. Returns a list of dicts.
    """
    rng = np.random.default_rng(seed)

    def u(*shape: int) -> np.ndarray:
        return rng.uniform(-1, 1, shape).astype(np.float32)

    def z(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    sets = []
    for _ in range(n):
        if name in ("mlp_gan_b64", "mlp_gan_b512"):
            sets.append({"x": u(batch, 784), "zd": z(batch, 100), "zg": z(batch, 100)})
        elif name == "dcgan28":
            sets.append({"x": u(batch, 1, 28, 28), "zd": z(batch, 100), "zg": z(batch, 100)})
        elif name == "cnn":
            y = rng.integers(0, 10, batch).astype(np.int64)
            sets.append({"x": u(batch, 1, 28, 28), "y": y})
        elif name == "lstm":
            y = rng.integers(0, LSTM_CLASSES, batch).astype(np.int64)
            sets.append({"x": u(batch, LSTM_STEPS, LSTM_INPUT), "y": y})
        elif name == "wgan_gp":
            sets.append(
                {
                    "x": [u(batch, 784) for _ in range(N_CRITIC)],
                    "zd": [z(batch, 100) for _ in range(N_CRITIC)],
                    "eps": [
                        rng.uniform(0, 1, (batch, 1)).astype(np.float32) for _ in range(N_CRITIC)
                    ],
                    "zg": z(batch, 100),
                }
            )
        else:
            raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    return sets


def _convert(fw: Framework, value: Any, dtype: str) -> Any:
    if isinstance(value, list):
        return [_convert(fw, v, dtype) for v in value]
    if value.dtype.kind == "f":
        value = value.astype(dtype)
    return fw.tensor(value)


# ------------------------------------------------------------------ training steps
def _gan_step(fw: Framework, G: Any, D: Any, opt_g: Any, opt_d: Any, dtype: str) -> Callable:
    """One D step and one non-saturating G step with BCE-with-logits (fresh noise for G)."""
    cache: dict[tuple, Any] = {}

    def labels(n: int) -> tuple[Any, Any]:
        if n not in cache:
            cache[n] = (
                fw.tensor(np.ones((n, 1), dtype)),
                fw.tensor(np.zeros((n, 1), dtype)),
            )
        return cache[n]

    def step(inp: dict) -> tuple[Any, Any]:
        x, zd, zg = inp["x"], inp["zd"], inp["zg"]
        ones, zeros = labels(x.shape[0])
        fake = G(zd).detach()
        loss_d = fw.bce_logits(D(x), ones) + fw.bce_logits(D(fake), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = fw.bce_logits(D(G(zg)), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return loss_d, loss_g

    return step


def _wgan_gp_step(fw: Framework, G: Any, D: Any, opt_g: Any, opt_d: Any, dtype: str) -> Callable:
    """N_CRITIC critic steps with gradient penalty, then one generator step."""

    def step(inp: dict) -> tuple[Any, Any]:
        for x, zd, eps in zip(inp["x"], inp["zd"], inp["eps"]):
            fake = G(zd).detach()
            x_hat = (eps * x + (1.0 - eps) * fake).detach().requires_grad_(True)
            (g,) = fw.grad(D(x_hat).sum(), x_hat, create_graph=True)
            gp = ((g.norm(2, dim=1) - 1.0) ** 2).mean() * GP_LAMBDA
            loss_d = D(fake).mean() - D(x).mean() + gp
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        loss_g = -D(G(inp["zg"])).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return loss_d, loss_g

    return step


def _cnn_step(fw: Framework, net: Any, opt: Any) -> Callable:
    def step(inp: dict) -> tuple[Any]:
        loss = fw.cross_entropy(net(inp["x"]), inp["y"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return (loss,)

    return step


def _lstm_step(fw: Framework, lstm: Any, head: Any, opt: Any, cell: bool) -> Callable:
    """Cross-entropy of the head on the last hidden state, backward, one Adam step.

    ``cell``: ``lstm`` is an LSTMCell stepped over the sequence in a Python loop.
    """

    def step(inp: dict) -> tuple[Any]:
        x = inp["x"]
        if cell:
            h = c = None
            for t in range(x.shape[1]):
                h, c = lstm(x[:, t], None if h is None else (h, c))
        else:
            _, (h_n, _) = lstm(x)
            h = h_n[0]
        loss = fw.cross_entropy(head(h), inp["y"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return (loss,)

    return step


def _cell_state(sd: dict[str, Any]) -> dict[str, Any]:
    """nn.LSTM's layer-0 parameter names (``weight_ih_l0``, ...) as LSTMCell's."""
    return {k.removesuffix("_l0"): v for k, v in sd.items()}


class Side:
    """One framework's models, optimisers and inputs for one workload.

    ``step()`` runs one iteration on the next pre-generated input set and returns the loss
    tensors (D then G, or the classifier's loss).
    """

    def __init__(
        self, workload: str, fw: Framework, models: dict[str, Any], step_fn: Callable, inputs: list
    ) -> None:
        self.workload, self.fw, self.models = workload, fw, models
        self.step_fn, self.inputs, self.i = step_fn, inputs, 0

    def step(self) -> tuple[Any, ...]:
        inp = self.inputs[self.i % len(self.inputs)]
        self.i += 1
        return self.step_fn(inp)

    def state(self) -> dict[str, np.ndarray]:
        """Every parameter and buffer as a NumPy copy, keys ``"G.0.weight"`` etc."""
        return {
            f"{m}.{k}": Framework.to_numpy(v)
            for m, model in self.models.items()
            for k, v in model.state_dict().items()
        }

    def set_dropout(self, active: bool) -> None:
        """Dropout layers to training (active) or eval (identity) mode; others unchanged."""
        for model in self.models.values():
            for mod in model.modules():
                if isinstance(mod, self.fw.nn.Dropout):
                    mod.train(active)


def build_side(
    name: str,
    framework: str,
    batch: int | None = None,
    *,
    state: dict[str, np.ndarray] | None = None,
    seed: int = 0,
    dropout: bool = True,
    dtype: str = "float32",
) -> Side:
    """Models, optimisers, inputs and the step of workload ``name`` for one framework.

    ``framework`` is "tapegrad", "torch" or, for ``lstm`` only, "torch_lstmcell" (PyTorch
    with an LSTMCell loop in place of nn.LSTM, same weights). Weights come from ``state``
    (as returned by :meth:`Side.state`) when given, else from the framework's own
    initialisation seeded with ``seed``. ``dropout=False`` puts the CNN's dropout in eval
    mode (the identity) so both sides are deterministic. ``dtype``
    ("float32" or "float64") is the precision of weights, optimiser state and inputs.
    """
    cell = name == "lstm" and framework == "torch_lstmcell"
    if cell:
        framework = "torch"
    if name not in MODELS:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    batch = BATCH[name] if batch is None else batch
    fw = Framework(framework)
    fw.manual_seed(seed)
    models = (lstm_cell_models if cell else MODELS[name])(fw.nn)
    for m, model in models.items():
        model.train()
        if state is not None:
            prefix = m + "."
            sd = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            if cell and m == "lstm":
                sd = _cell_state(sd)
            if framework == "torch":
                sd = {k: fw.lib.from_numpy(np.array(v)) for k, v in sd.items()}
            model.load_state_dict(sd)
        if dtype == "float64":
            model.double()
    Adam = fw.optim.Adam
    if name == "cnn":
        step_fn = _cnn_step(fw, models["net"], Adam(models["net"].parameters(), lr=1e-3))
    elif name == "lstm":
        lstm, head = models["lstm"], models["head"]
        opt = Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
        step_fn = _lstm_step(fw, lstm, head, opt, cell)
    else:
        lr, betas = (1e-4, (0.5, 0.9)) if name == "wgan_gp" else (2e-4, (0.5, 0.999))
        G, D = models["G"], models["D"]
        opt_g = Adam(G.parameters(), lr=lr, betas=betas)
        opt_d = Adam(D.parameters(), lr=lr, betas=betas)
        make = _wgan_gp_step if name == "wgan_gp" else _gan_step
        step_fn = make(fw, G, D, opt_g, opt_d, dtype)
    inputs = [
        {k: _convert(fw, v, dtype) for k, v in s.items()} for s in make_inputs(name, batch, seed)
    ]
    side = Side(name, fw, models, step_fn, inputs)
    side.set_dropout(dropout)
    return side


def build_pair(
    name: str,
    batch: int | None = None,
    *,
    seed: int = 0,
    dropout: bool = True,
    dtype: str = "float32",
) -> tuple[Side, Side]:
    """(tapegrad side, PyTorch side) of workload ``name`` with identical weights and inputs.

    PyTorch initialises the weights (its default init, seeded with ``seed``, in float32);
    tapegrad loads them with ``load_state_dict``; both are then cast to ``dtype``.
    """
    pt = build_side(name, "torch", batch, seed=seed, dropout=dropout, dtype=dtype)
    kw = dict(state=pt.state(), seed=seed, dropout=dropout, dtype=dtype)
    tg = build_side(name, "tapegrad", batch, **kw)
    return tg, pt


# ------------------------------------------------------------------ FLOP counts
# Forward FLOPs per sample of each GEMM-like layer (2 * multiply-adds), in network order.
_MLP_G = [2 * 100 * 128, 2 * 128 * 784]
_MLP_D = [2 * 784 * 128, 2 * 128 * 64, 2 * 64 * 1]
_DC_G = [2 * 100 * 6272, 2 * 128 * 7 * 7 * 64 * 4 * 4, 2 * 64 * 14 * 14 * 1 * 4 * 4]
_DC_D = [2 * 1 * 4 * 4 * 64 * 14 * 14, 2 * 64 * 4 * 4 * 128 * 7 * 7, 2 * 6272 * 1]
_CNN = [2 * 1 * 9 * 32 * 28 * 28, 2 * 32 * 9 * 64 * 14 * 14, 2 * 3136 * 128, 2 * 128 * 10]


def _fwd(layers: list[int], b: int) -> int:
    return b * sum(layers)


def _bwd(layers: list[int], b: int, input_grad: bool) -> int:
    """Weight gradients (1x forward) for all layers, input gradients (1x) for all but the
    first layer unless the network's input needs a gradient."""
    return b * (2 * sum(layers) - (0 if input_grad else layers[0]))


def iteration_flops(name: str, batch: int | None = None) -> int:
    """Matmul/conv FLOPs of one iteration of ``name`` (see the README for the counting).

    Elementwise work, reductions, pooling, batch norm and the optimiser are not counted.
    For ``wgan_gp`` the gradient penalty's double backward is approximated (see below).
    """
    b = BATCH[name] if batch is None else batch
    if name == "lstm":
        # per step: input and hidden projections to the 4 gates; backward: weight gradients
        # of both and the hidden state's gradient (the input needs none); the head.
        x_proj, h_proj = 2 * LSTM_INPUT * 4 * LSTM_HIDDEN, 2 * LSTM_HIDDEN * 4 * LSTM_HIDDEN
        head = 2 * LSTM_HIDDEN * LSTM_CLASSES
        return b * (LSTM_STEPS * (2 * x_proj + 3 * h_proj) + 3 * head)
    if name == "cnn":
        return _fwd(_CNN, b) + _bwd(_CNN, b, False)
    g, d = (_DC_G, _DC_D) if name == "dcgan28" else (_MLP_G, _MLP_D)
    # G step: G forward, D forward, D backward into its input, G backward.
    g_step = _fwd(g, b) + _fwd(d, b) + _bwd(d, b, True) + _bwd(g, b, False)
    d_on_data = _fwd(d, b) + _bwd(d, b, False)  # D on real or detached fake data
    if name != "wgan_gp":
        return _fwd(g, b) + 2 * d_on_data + g_step
    # Critic step: G forward (detached), D on real and on fake, and the penalty: D forward on
    # x_hat, the input-gradient pass (1x forward, create_graph) and its double backward,
    # counted as 2x forward (a weight-gradient and an upstream-gradient GEMM per GEMM of the
    # input-gradient pass). Backprop of zeros through D(x_hat)'s forward graph is not counted.
    penalty = _fwd(d, b) + _fwd(d, b) + 2 * _fwd(d, b)
    critic = _fwd(g, b) + 2 * d_on_data + penalty
    return N_CRITIC * critic + g_step
