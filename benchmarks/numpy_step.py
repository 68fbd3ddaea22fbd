"""A hand-written NumPy training step for dcgan28 and cnn: the floor for GEMM-bound work.

The same layers, the same GEMMs and the same float math as the workloads of
workload_defs.py, written directly in NumPy with no autograd graph: channels-last
(N, H, W, C) activations, convolution weights stored as GEMM matrices, im2col by one
strided slice copy per kernel offset, col2im by one slice-add per kernel offset, forward,
backward and PyTorch's Adam update in place. Where NumPy's BLAS is slower than PyTorch's
on a CPU, tapegrad's time over this step's time says how much the framework itself costs.

Like PyTorch and tapegrad, the GAN's generator step also computes the discriminator's
weight gradients (its parameters require gradients), so both do the same GEMMs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from workload_defs import BATCH, build_side, make_inputs

WORKLOADS = ("dcgan28", "cnn")
#: Every GEMM of the step goes through this name, so :func:`gemm_cpu_ms` can time them.
GEMM: Callable[[np.ndarray, np.ndarray], np.ndarray] = np.matmul


# ------------------------------------------------------------------ im2col / col2im
def im2col(xp: np.ndarray, k: int, s: int, ho: int, wo: int) -> np.ndarray:
    """Columns (N, Ho, Wo, k, k, C) of a padded (N, Hp, Wp, C) input, stride ``s``."""
    n, _, _, c = xp.shape
    cols = np.empty((n, ho, wo, k, k, c), xp.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, :, i, j, :] = xp[
                :, i : i + s * (ho - 1) + 1 : s, j : j + s * (wo - 1) + 1 : s
            ]
    return cols


def col2im(cols: np.ndarray, hp: int, wp: int, s: int) -> np.ndarray:
    """The padded (N, Hp, Wp, C) sum of columns (N, Ho, Wo, k, k, C), stride ``s``."""
    n, ho, wo, k, _, c = cols.shape
    out = np.zeros((n, hp, wp, c), cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, i : i + s * (ho - 1) + 1 : s, j : j + s * (wo - 1) + 1 : s] += cols[
                :, :, :, i, j
            ]
    return out


def pad(x: np.ndarray, p: int) -> np.ndarray:
    """(N, H, W, C) -> (N, H + 2p, W + 2p, C) with zeros around."""
    if p == 0:
        return x
    n, h, w, c = x.shape
    out = np.zeros((n, h + 2 * p, w + 2 * p, c), x.dtype)
    out[:, p : p + h, p : p + w] = x
    return out


# ------------------------------------------------------------------ layers
class Layer:
    """``params``/``grads`` hold arrays in this module's layout; ``forward(x)`` returns
    (y, cache) and ``backward(cache, dy, need_dx)`` adds into ``grads``, returns dx."""

    params: dict[str, np.ndarray] = {}

    def load(self, sd: dict[str, np.ndarray]) -> None:  # noqa: B027 - no parameters
        pass

    def export(self) -> dict[str, np.ndarray]:
        """Parameters and buffers in PyTorch's layout."""
        return {}

    def grads_torch(self) -> dict[str, np.ndarray]:
        """Gradients in PyTorch's layout."""
        return {}


class Linear(Layer):
    """y = x @ Wt + b, Wt (I, O). ``perm_in``/``perm_out`` reorder PyTorch's features to
    this module's channels-last flattening."""

    def __init__(self, perm_in: np.ndarray | None = None, perm_out: np.ndarray | None = None):
        self.perm_in, self.perm_out = perm_in, perm_out

    def load(self, sd):
        w, b = sd["weight"], sd["bias"]
        if self.perm_out is not None:
            w, b = w[self.perm_out], b[self.perm_out]
        if self.perm_in is not None:
            w = w[:, self.perm_in]
        self.params = {"weight": np.ascontiguousarray(w.T), "bias": b.copy()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def _torch(self, d):
        w, b = d["weight"].T, d["bias"]
        if self.perm_in is not None:
            w = w[:, np.argsort(self.perm_in)]
        if self.perm_out is not None:
            inv = np.argsort(self.perm_out)
            w, b = w[inv], b[inv]
        return {"weight": w, "bias": b}

    def export(self):
        return self._torch(self.params)

    def grads_torch(self):
        return self._torch(self.grads)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        return GEMM(x, self.params["weight"]) + self.params["bias"], x

    def backward(self, x, dy, need_dx=True):
        self.grads["weight"] += GEMM(x.T, dy)
        self.grads["bias"] += dy.sum(0)
        return GEMM(dy, self.params["weight"].T) if need_dx else None


class _GemmWeight(Layer):
    """A convolution's weight as one GEMM matrix: PyTorch's 4-d weight transposed to
    ``order``, its first ``rows`` axes as the matrix rows; bias optional."""

    order: tuple[int, ...] = ()
    rows = 0

    def __init__(self, k: int, s: int, p: int, bias: bool = True):
        self.k, self.s, self.p, self.bias = k, s, p, bias

    def load(self, sd):
        w = sd["weight"]
        self.shape = w.shape
        nrows = int(np.prod([w.shape[a] for a in self.order[: self.rows]]))
        self.params = {"weight": np.ascontiguousarray(w.transpose(self.order).reshape(nrows, -1))}
        if self.bias:
            self.params["bias"] = sd["bias"].copy()
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def _torch(self, d):
        shape = [self.shape[a] for a in self.order]
        out = {"weight": d["weight"].reshape(shape).transpose(np.argsort(self.order))}
        return out | ({"bias": d["bias"]} if self.bias else {})

    def export(self):
        return self._torch(self.params)

    def grads_torch(self):
        return self._torch(self.grads)


class Conv2d(_GemmWeight):
    """Weight (k*k*C, O) from PyTorch's (O, C, k, k); columns (N*Ho*Wo, k*k*C)."""

    order, rows = (2, 3, 1, 0), 3

    def forward(self, x):
        n, h, w, _ = x.shape
        k, s, p = self.k, self.s, self.p
        ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        cols = im2col(pad(x, p), k, s, ho, wo).reshape(n * ho * wo, -1)
        y = GEMM(cols, self.params["weight"])
        if self.bias:
            y += self.params["bias"]
        return y.reshape(n, ho, wo, -1), (cols, x.shape)

    def backward(self, cache, dy, need_dx=True):
        cols, (n, h, w, c) = cache
        dy2 = dy.reshape(-1, dy.shape[-1])
        self.grads["weight"] += GEMM(cols.T, dy2)
        if self.bias:
            self.grads["bias"] += dy2.sum(0)
        if not need_dx:
            return None
        k, p = self.k, self.p
        dcols = GEMM(dy2, self.params["weight"].T).reshape(*dy.shape[:3], k, k, c)
        return col2im(dcols, h + 2 * p, w + 2 * p, self.s)[:, p : p + h, p : p + w]


class ConvTranspose2d(_GemmWeight):
    """Weight (C, k*k*O) from PyTorch's (C, O, k, k): the forward is a product into
    columns and a col2im."""

    order, rows = (0, 2, 3, 1), 1

    def forward(self, x):
        n, h, w, c = x.shape
        k, s, p, o = self.k, self.s, self.p, self.shape[1]
        x2 = x.reshape(-1, c)
        cols = GEMM(x2, self.params["weight"]).reshape(n, h, w, k, k, o)
        hp, wp = (h - 1) * s + k, (w - 1) * s + k
        y = np.ascontiguousarray(col2im(cols, hp, wp, s)[:, p : hp - p, p : wp - p])
        if self.bias:
            y += self.params["bias"]
        return y, x2

    def backward(self, x2, dy, need_dx=True):
        k, s, p = self.k, self.s, self.p
        if self.bias:
            self.grads["bias"] += dy.sum((0, 1, 2))
        n, ho, wo, _ = dy.shape
        h, w = (ho + 2 * p - k) // s + 1, (wo + 2 * p - k) // s + 1
        dcols = im2col(pad(dy, p), k, s, h, w).reshape(n * h * w, -1)
        self.grads["weight"] += GEMM(x2.T, dcols)
        return GEMM(dcols, self.params["weight"].T).reshape(n, h, w, -1) if need_dx else None


class BatchNorm(Layer):
    """Batch norm over all but the last (channel) axis, training mode, running stats kept."""

    eps, momentum = 1e-5, 0.1

    def load(self, sd):
        self.params = {"weight": sd["weight"].copy(), "bias": sd["bias"].copy()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running_mean, self.running_var = sd["running_mean"].copy(), sd["running_var"].copy()

    def export(self):
        return self.params | {"running_mean": self.running_mean, "running_var": self.running_var}

    def grads_torch(self):
        return self.grads

    def forward(self, x):
        c = x.shape[-1]
        x2 = x.reshape(-1, c)
        n = x2.shape[0]
        # float32 sums over the outer axis add one row after another (no pairwise summation):
        # over 12,544 rows that costs digits the centred backward formula amplifies, so the
        # per-channel sums accumulate in float64, as in tapegrad.
        mean = x2.mean(0, dtype=np.float64).astype(x.dtype)
        xc = x2 - mean
        var = (np.einsum("ij,ij->j", xc, xc, dtype=np.float64) / n).astype(x.dtype)
        invstd = 1.0 / np.sqrt(var + self.eps)
        xhat = xc * invstd
        m = self.momentum
        self.running_mean = (1 - m) * self.running_mean + m * mean
        self.running_var = (1 - m) * self.running_var + m * var * (n / (n - 1))
        y = xhat * self.params["weight"] + self.params["bias"]
        return y.reshape(x.shape), (xhat, invstd)

    def backward(self, cache, dy, need_dx=True):
        xhat, invstd = cache
        dy2 = dy.reshape(xhat.shape)
        n = xhat.shape[0]
        db = dy2.sum(0, dtype=np.float64).astype(dy.dtype)
        dg = np.einsum("ij,ij->j", dy2, xhat, dtype=np.float64).astype(dy.dtype)
        self.grads["weight"] += dg
        self.grads["bias"] += db
        scale = self.params["weight"] * invstd / n
        return ((n * dy2 - db - xhat * dg) * scale).reshape(dy.shape)


class Act(Layer):
    """ReLU (slope 0), LeakyReLU (slope > 0) or tanh (``slope=None``)."""

    def __init__(self, slope: float | None):
        self.slope = slope

    def forward(self, x):
        if self.slope is None:
            y = np.tanh(x)
            return y, y
        pos = x > 0
        if self.slope == 0:
            return x * pos, pos
        return np.where(pos, x, x * x.dtype.type(self.slope)), pos

    def backward(self, cache, dy, need_dx=True):
        if self.slope is None:
            return dy * (1 - cache * cache)
        if self.slope == 0:
            return dy * cache
        return np.where(cache, dy, dy * dy.dtype.type(self.slope))


class Reshape(Layer):
    """Unflatten to channels-last (N, *shape), or Flatten (``shape=None``)."""

    def __init__(self, shape: tuple[int, ...] | None):
        self.shape = shape

    def forward(self, x):
        return x.reshape((x.shape[0],) + (self.shape or (-1,))), x.shape

    def backward(self, shape, dy, need_dx=True):
        return dy.reshape(shape)


class MaxPool2(Layer):
    """2x2 max pooling, stride 2; the gradient goes to the maxima (ties follow ReLU zeros)."""

    def forward(self, x):
        n, h, w, c = x.shape
        xr = x.reshape(n, h // 2, 2, w // 2, 2, c)
        y = xr.max(axis=(2, 4))
        return y, xr == y[:, :, None, :, None]

    def backward(self, mask, dy, need_dx=True):
        dx = mask * dy[:, :, None, :, None]
        n, h2, _, w2, _, c = dx.shape
        return dx.reshape(n, 2 * h2, 2 * w2, c)


class Dropout(Layer):
    """Inverted dropout with probability ``p`` while ``active``, else the identity."""

    def __init__(self, p: float, rng: np.random.Generator):
        self.p, self.rng, self.active = p, rng, True

    def forward(self, x):
        if not self.active:
            return x, None
        mask = (self.rng.random(x.shape, dtype=np.float32) >= self.p) * x.dtype.type(
            1 / (1 - self.p)
        )
        return x * mask, mask

    def backward(self, mask, dy, need_dx=True):
        return dy if mask is None else dy * mask


# ------------------------------------------------------------------ networks, Adam, losses
class Net:
    """Layers indexed like the PyTorch ``nn.Sequential`` (``None`` where it has no work)."""

    def __init__(self, layers: list[Layer]):
        self.layers = layers

    def load(self, sd: dict[str, np.ndarray]) -> None:
        for i, layer in enumerate(self.layers):
            layer.load({k.split(".", 1)[1]: v for k, v in sd.items() if k.split(".")[0] == str(i)})

    def _collect(self, what: str) -> dict[str, np.ndarray]:
        return {
            f"{i}.{k}": v for i, l in enumerate(self.layers) for k, v in getattr(l, what)().items()
        }

    def export(self) -> dict[str, np.ndarray]:
        return self._collect("export")

    def grads_torch(self) -> dict[str, np.ndarray]:
        return self._collect("grads_torch")

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(p, layer.grads[k]) for layer in self.layers for k, p in layer.params.items()]

    def zero_grad(self) -> None:
        for _, g in self.params():
            g.fill(0)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        caches = []
        for layer in self.layers:
            x, c = layer.forward(x)
            caches.append(c)
        return x, caches

    def backward(self, caches: list, dy: np.ndarray, need_dx: bool) -> np.ndarray | None:
        """Adds the parameter gradients; returns the input's gradient if ``need_dx``."""
        for i in range(len(self.layers) - 1, -1, -1):
            dy = self.layers[i].backward(caches[i], dy, need_dx or i > 0)
        return dy


class Adam:
    """PyTorch's Adam (no weight decay, no amsgrad), updating the arrays in place."""

    def __init__(self, net: Net, lr: float, betas: tuple[float, float] = (0.9, 0.999)):
        self.pg, self.lr, (self.b1, self.b2), self.t = net.params(), lr, betas, 0
        self.m = [np.zeros_like(p) for p, _ in self.pg]
        self.v = [np.zeros_like(p) for p, _ in self.pg]

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.b1, self.b2
        step_size = self.lr / (1 - b1**self.t)
        root_bc2 = np.sqrt(1 - b2**self.t)
        for (p, g), m, v in zip(self.pg, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            denom = np.sqrt(v)
            denom /= root_bc2
            denom += 1e-8
            p -= step_size * m / denom


def bce_logits(logits: np.ndarray, target: float) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy with logits against a constant label; (loss, dlogits)."""
    loss = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    sig = 1 / (1 + np.exp(-logits))
    return float(loss.mean()), (sig - target) / logits.size


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of (B, K) logits against int labels; (loss, dlogits)."""
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    s = e.sum(1, keepdims=True)
    rows = np.arange(len(y))
    loss = float((np.log(s[:, 0]) - z[rows, y]).mean())
    d = e / s
    d[rows, y] -= 1
    return loss, d / len(y)


def _perm(c: int, h: int, w: int) -> np.ndarray:
    """PyTorch's (C, H, W) flat index of each position of the (H, W, C) flattening."""
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()


# ------------------------------------------------------------------ the steps
class NumpyStep:
    """One workload's networks, optimisers and inputs; ``step()`` runs one iteration.

    Built from a PyTorch-layout state (as :meth:`workload_defs.Side.state` returns) and
    the workload's pre-generated inputs. With ``record_grads`` set (for checks; off while
    timing), ``grads`` holds after each step the gradients every optimiser step used, keyed
    and laid out like PyTorch's.
    """

    def __init__(self, name: str, state: dict[str, np.ndarray], inputs: list[dict], seed: int = 0):
        if name not in WORKLOADS:
            raise ValueError(f"no NumPy step for workload {name!r}; choose from {WORKLOADS}")
        self.name, self.i, self.grads, self.record_grads = name, 0, {}, False
        rng = np.random.default_rng(seed)
        if name == "dcgan28":
            self.nets = {
                "G": Net([
                    Linear(perm_out=_perm(128, 7, 7)), Reshape((7, 7, 128)), BatchNorm(), Act(0),
                    ConvTranspose2d(4, 2, 1, bias=False), BatchNorm(), Act(0),
                    ConvTranspose2d(4, 2, 1), Act(None),
                ]),
                "D": Net([
                    Conv2d(4, 2, 1), Act(0.2), Conv2d(4, 2, 1, bias=False), BatchNorm(), Act(0.2),
                    Reshape(None), Linear(perm_in=_perm(128, 7, 7)),
                ]),
            }  # fmt: skip
        else:
            self.nets = {
                "net": Net([
                    Conv2d(3, 1, 1), Act(0), MaxPool2(), Conv2d(3, 1, 1), Act(0), MaxPool2(),
                    Reshape(None), Linear(perm_in=_perm(64, 7, 7)), Act(0), Dropout(0.5, rng),
                    Linear(),
                ]),
            }  # fmt: skip
        for m, net in self.nets.items():
            net.load({k[len(m) + 1 :]: v for k, v in state.items() if k.startswith(m + ".")})
        if name == "dcgan28":
            self.opts = {m: Adam(n, 2e-4, (0.5, 0.999)) for m, n in self.nets.items()}
        else:
            self.opts = {"net": Adam(self.nets["net"], 1e-3)}
        # channels-last inputs, converted once (as both frameworks convert theirs once)
        self.inputs = [
            {
                k: np.ascontiguousarray(v.transpose(0, 2, 3, 1)) if v.ndim == 4 else v
                for k, v in s.items()
            }
            for s in inputs
        ]

    def set_dropout(self, active: bool) -> None:
        for net in self.nets.values():
            for layer in net.layers:
                if isinstance(layer, Dropout):
                    layer.active = active

    def state(self) -> dict[str, np.ndarray]:
        """Parameters and batch-norm running statistics, PyTorch's keys and layouts."""
        return {f"{m}.{k}": v for m, net in self.nets.items() for k, v in net.export().items()}

    def _update(self, m: str) -> None:
        if self.record_grads:
            self.grads |= {f"{m}.{k}": v.copy() for k, v in self.nets[m].grads_torch().items()}
        self.opts[m].step()

    def step(self) -> tuple[float, ...]:
        """One iteration on the next input set; returns the losses (D then G, or the loss)."""
        inp = self.inputs[self.i % len(self.inputs)]
        self.i += 1
        if self.name == "cnn":
            net = self.nets["net"]
            logits, caches = net.forward(inp["x"])
            loss, dl = cross_entropy(logits, inp["y"])
            net.zero_grad()
            net.backward(caches, dl, need_dx=False)
            self._update("net")
            return (loss,)
        G, D = self.nets["G"], self.nets["D"]
        fake, _ = G.forward(inp["zd"])
        lr, cr = D.forward(inp["x"])
        lf, cf = D.forward(fake)
        (loss_r, dr), (loss_f, df) = bce_logits(lr, 1.0), bce_logits(lf, 0.0)
        D.zero_grad()
        D.backward(cr, dr, need_dx=False)
        D.backward(cf, df, need_dx=False)
        self._update("D")
        img, cg = G.forward(inp["zg"])
        lg, cd = D.forward(img)
        loss_g, dg = bce_logits(lg, 1.0)
        dimg = D.backward(cd, dg, need_dx=True)  # D's weight gradients too, as autograd does
        G.zero_grad()
        G.backward(cg, dimg, need_dx=False)
        self._update("G")
        return loss_r + loss_f, loss_g


def build_numpy_step(
    name: str, state: dict[str, np.ndarray], batch: int | None = None, seed: int = 0,
    dtype: str = "float32",
) -> NumpyStep:  # fmt: skip
    """The NumPy step of ``name`` from a PyTorch-layout ``state``, on the workload's inputs
    (``make_inputs(name, batch, seed)``) in ``dtype``."""
    batch = BATCH[name] if batch is None else batch
    inputs = [
        {k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in s.items()}
        for s in make_inputs(name, batch, seed)
    ]
    return NumpyStep(name, {k: v.astype(dtype) for k, v in state.items()}, inputs, seed)


def check_numpy_step(
    name: str, batch: int | None = None, seed: int = 0, dtype: str = "float64"
) -> dict[str, Any]:
    """One iteration of the NumPy step and of PyTorch from the same weights and inputs,
    dropout off: the gradients each optimiser step used, the losses and the state after.

    Returns ``grad_rel`` (max over parameters of max |diff| / max |PyTorch's gradient|),
    ``worst`` (its key), ``state_diff`` (max |diff| of parameters and running statistics
    after the iteration), ``losses`` (NumPy, PyTorch pairs) and ``keys_match``.
    """
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    pt = build_side(name, "torch", batch, seed=seed, dropout=False, dtype=dtype)
    names = {
        id(p): f"{m}.{k}" for m, model in pt.models.items() for k, p in model.named_parameters()
    }
    pt_grads: dict[str, np.ndarray] = {}

    def capture(opt: Any, args: Any, kwargs: Any) -> None:
        for group in opt.param_groups:
            for p in group["params"]:
                pt_grads[names[id(p)]] = p.grad.detach().numpy().copy()

    ns = build_numpy_step(name, pt.state(), batch, seed, dtype)
    ns.set_dropout(False)
    ns.record_grads = True
    handle = register_optimizer_step_pre_hook(capture)
    try:
        lp = [float(v.item()) for v in pt.step()]
    finally:
        handle.remove()
    ln = list(ns.step())
    worst, worst_key = 0.0, ""
    for k, ref in pt_grads.items():
        d = float(np.max(np.abs(ns.grads[k] - ref)) / max(np.max(np.abs(ref)), 1e-30))
        if d > worst:
            worst, worst_key = d, k
    st, sp = ns.state(), pt.state()
    state_diff = max(float(np.max(np.abs(v - sp[k]))) for k, v in st.items())
    return {
        "grad_rel": worst,
        "worst": worst_key,
        "state_diff": state_diff,
        "losses": list(zip(ln, lp)),
        "keys_match": set(ns.grads) == set(pt_grads) and set(st) <= set(sp),
    }


def gemm_cpu_ms(ns: NumpyStep, iters: int = 3) -> tuple[float, float]:
    """(CPU ms of the GEMMs alone, CPU ms of the whole step) per iteration of ``ns``, timed
    around each GEMM call (the bound no NumPy program with these GEMMs can go under)."""
    global GEMM
    spent = [0.0]

    def timed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        t0 = time.process_time()
        out = np.matmul(a, b)
        spent[0] += time.process_time() - t0
        return out

    GEMM = timed
    try:
        t0 = time.process_time()
        for _ in range(iters):
            ns.step()
        total = time.process_time() - t0
    finally:
        GEMM = np.matmul
    return spent[0] * 1e3 / iters, total * 1e3 / iters


def run_numpy_step(name: str, tg: Any, pt: Any, time_pair: Callable) -> dict[str, Any]:
    """Check the NumPy step of ``name`` against PyTorch (float64 and float32), then time it
    interleaved with tapegrad's side ``tg`` (``time_pair(tg, step)``); prints and returns
    the check and the tapegrad / NumPy-step ratios."""
    chk = {dt: check_numpy_step(name, dtype=dt) for dt in ("float64", "float32")}
    ok = chk["float64"]["grad_rel"] < 1e-9 and chk["float64"]["keys_match"]
    ok = ok and chk["float32"]["grad_rel"] < 1e-4
    print(
        f"    NumPy step check {'ok' if ok else 'FAILED'}: max |grad diff| / max |grad| vs "
        f"PyTorch float64 {chk['float64']['grad_rel']:.1e}, float32 "
        f"{chk['float32']['grad_rel']:.1e} ({chk['float32']['worst']})",
        flush=True,
    )
    ns = build_numpy_step(name, pt.state())
    tm = time_pair(tg, ns)
    gemm_ms, step_ms = gemm_cpu_ms(ns)
    out = {k: v for k, v in tm.items() if not k.startswith("samples")}
    out |= {
        "check": chk,
        "check_ok": ok,
        "numpy_ms": tm["torch_ms"],
        "numpy_cpu_ms": tm["torch_cpu_ms"],
        "gemm_cpu_ms": gemm_ms,
        "gemm_share": gemm_ms / step_ms,
    }
    c1, c3 = tm["cpu_ratio_iqr"]
    q1, q3 = tm["ratio_iqr"]
    print(
        f"    NumPy step {tm['torch_ms']:.3f} ms/it (CPU {tm['torch_cpu_ms']:.3f}); tapegrad / "
        f"NumPy step CPU time {tm['cpu_ratio']:.2f} (IQR {c1:.2f}-{c3:.2f}), wall "
        f"{tm['ratio']:.2f} (IQR {q1:.2f}-{q3:.2f}); its GEMMs alone {gemm_ms:.1f} ms/it "
        f"of CPU time ({100 * gemm_ms / step_ms:.0f}% of the step)",
        flush=True,
    )
    return out
