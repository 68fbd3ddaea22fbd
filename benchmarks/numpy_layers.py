"""The building blocks of the hand-written NumPy steps of numpy_step.py.

Layers with no autograd graph, each holding its parameters and gradients in a layout
made for the GEMMs: channels-last (N, H, W, C) activations, weights stored as GEMM
matrices, im2col by one strided slice copy per kernel offset and col2im by one slice-add
per kernel offset; a network of them (:class:`Net`), PyTorch's Adam in place (through
tapegrad's compiled one-pass update when Numba is installed, as tapegrad does), and the
losses with their gradients. Every matrix product goes through the module-level name
:data:`GEMM`, which numpy_step.gemm_cpu_ms swaps for a timed one.

For WGAN-GP's gradient penalty, :class:`Linear` and :class:`Act` also run the input
gradient pass (a backward pass without weight gradients) and its own backward (the
penalty's gradient w.r.t. the weights).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tapegrad.optim.adam_kernel import adam_scalars, fused_adam

#: Every GEMM of the step goes through this name, so numpy_step.gemm_cpu_ms can time them.
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
    (y, cache) and ``backward(cache, dy, need_dx)`` adds into ``grads``, returns dx.
    Linear and Act also have ``input_grad`` and ``input_grad_backward`` (double backward)."""

    params: dict[str, np.ndarray] = {}

    def load(self, sd: dict[str, np.ndarray]) -> None:  # noqa: B027 - no parameters
        pass

    def export(self) -> dict[str, np.ndarray]:
        """Parameters and buffers in PyTorch's layout."""
        return {}

    def grads_torch(self) -> dict[str, np.ndarray]:
        """Gradients in PyTorch's layout."""
        return {}

    def input_grad(self, cache, dy: np.ndarray) -> np.ndarray:
        """The input's gradient from the output's ``dy``, no parameter gradients (the
        first pass of a double backward)."""
        raise NotImplementedError(f"{type(self).__name__} has no input-gradient pass")

    def input_grad_backward(self, cache, dy: np.ndarray, ddx: np.ndarray, need_ddy: bool):
        """Backward of :meth:`input_grad` at ``dy``: ``ddx`` is a loss's gradient w.r.t.
        the input gradient; adds the loss's parameter gradients into ``grads`` and returns
        its gradient w.r.t. ``dy`` if ``need_ddy``."""
        raise NotImplementedError(f"{type(self).__name__} has no input-gradient pass")


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
        y = GEMM(x, self.params["weight"])
        y += self.params["bias"]
        return y, x

    def backward(self, x, dy, need_dx=True):
        self.grads["weight"] += GEMM(x.T, dy)
        self.grads["bias"] += dy.sum(0)
        return self.input_grad(x, dy) if need_dx else None

    def input_grad(self, x, dy):
        return GEMM(dy, self.params["weight"].T)

    def input_grad_backward(self, x, dy, ddx, need_ddy):
        # dx = dy @ Wt.T is bilinear in (dy, Wt); the bias does not enter it.
        self.grads["weight"] += GEMM(ddx.T, dy)
        return GEMM(ddx, self.params["weight"]) if need_ddy else None


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
        if slope is not None and not 0 <= slope <= 1:
            raise ValueError(f"Act: slope {slope} outside [0, 1]")
        self.slope = slope

    def forward(self, x):
        if self.slope is None:
            y = np.tanh(x)
            return y, y
        pos = x > 0
        if self.slope == 0:
            return np.maximum(x, 0), pos
        # max(x, slope * x) for a slope in (0, 1]: no np.where, which is slow on a
        # data-dependent mask, and one array allocated
        y = x * x.dtype.type(self.slope)
        return np.maximum(x, y, out=y), pos

    def backward(self, cache, dy, need_dx=True):
        if self.slope is None:
            d = cache * cache
            np.subtract(1, d, out=d)
            d *= dy
            return d
        if self.slope == 0:
            return dy * cache
        # the derivative, 1 or slope, times dy: arithmetic rather than np.where ((1 - s) + s
        # rounds to exactly 1 for the workloads' slope 0.2, in float32 and float64)
        d = cache.astype(dy.dtype)
        d *= dy.dtype.type(1 - self.slope)
        d += dy.dtype.type(self.slope)
        d *= dy
        return d

    def input_grad(self, cache, dy):
        if self.slope is None:
            raise NotImplementedError("no input-gradient pass through tanh")
        return self.backward(cache, dy)

    def input_grad_backward(self, cache, dy, ddx, need_ddy):
        # The (Leaky)ReLU's mask is constant almost everywhere (second derivative zero), so
        # dx = mask * dy is linear in dy and nothing flows back to the forward's input.
        return self.input_grad(cache, ddx) if need_ddy else None


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

    def input_grad(self, caches: list, dy: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """The input's gradient from the output's ``dy`` (no parameter gradients), and the
        gradient that entered each layer (for :meth:`input_grad_backward`)."""
        dys: list[np.ndarray] = [dy] * len(self.layers)  # filled from the last layer on
        for i in range(len(self.layers) - 1, -1, -1):
            dys[i] = dy
            dy = self.layers[i].input_grad(caches[i], dy)
        return dy, dys

    def input_grad_backward(self, caches: list, dys: list[np.ndarray], ddx: np.ndarray) -> None:
        """Adds the parameter gradients of a loss on the input gradient of
        :meth:`input_grad`, given ``ddx``, its gradient w.r.t. that input gradient. The
        output's ``dy`` is a constant, so the last layer sends nothing upstream."""
        for i, layer in enumerate(self.layers):
            ddx = layer.input_grad_backward(caches[i], dys[i], ddx, i < len(self.layers) - 1)


class Adam:
    """PyTorch's Adam (no weight decay, no amsgrad), updating the arrays in place."""

    def __init__(self, net: Net, lr: float, betas: tuple[float, float] = (0.9, 0.999)):
        self.pg, self.lr, (self.b1, self.b2), self.t = net.params(), lr, betas, 0
        self.m = [np.zeros_like(p) for p, _ in self.pg]
        self.v = [np.zeros_like(p) for p, _ in self.pg]
        # one scratch array per parameter: no temporaries allocated (and page-faulted) per step
        self.tmp = [np.zeros_like(p) for p, _ in self.pg]

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.b1, self.b2
        step_size = self.lr / (1 - b1**self.t)
        bc2 = 1 - b2**self.t
        root_bc2 = np.sqrt(bc2)
        sc = adam_scalars(self.pg[0][0].dtype, b1, b2, 1e-8, step_size, bc2)  # (one dtype)
        for (p, g), m, v, tmp in zip(self.pg, self.m, self.v, self.tmp):
            # tapegrad's compiled one-pass update where tapegrad uses it (Numba
            # installed), so the two steps differ only in the graph around the products
            if fused_adam(p, g, m, v, sc):
                continue
            m *= b1
            m += np.multiply(g, 1 - b1, out=tmp)
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            np.sqrt(v, out=tmp)  # the denominator, then the step
            tmp /= root_bc2
            tmp += 1e-8
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


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


def hwc_perm(c: int, h: int, w: int) -> np.ndarray:
    """PyTorch's (C, H, W) flat index of each position of the (H, W, C) flattening."""
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()
