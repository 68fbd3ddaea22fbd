"""Hand-written NumPy training steps: the floor for GEMM-bound work.

For the workloads mlp_gan_b64, mlp_gan_b512, dcgan28, cnn and wgan_gp of
workload_defs.py: the same layers, the same GEMMs and the same float math, written
directly in NumPy with no autograd graph (the layers are in numpy_layers.py), forward,
backward and PyTorch's Adam update in place. Where NumPy's BLAS is slower than PyTorch's
on a CPU, tapegrad's time over this step's time says how much the framework itself costs.

Like PyTorch and tapegrad, the GANs' generator steps also compute the discriminator's
weight gradients (its parameters require gradients), so all three do the same GEMMs.
WGAN-GP's gradient penalty is differentiated by hand: the input gradient of the critic is
a backward pass of ones through it, and the penalty's gradient w.r.t. the critic's
weights is the backward of that pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy_layers
from numpy_layers import (
    Act,
    Adam,
    BatchNorm,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Linear,
    MaxPool2,
    Net,
    Reshape,
    bce_logits,
    cross_entropy,
    hwc_perm,
)
from workload_defs import BATCH, GP_LAMBDA, build_side, make_inputs

WORKLOADS = ("mlp_gan_b64", "mlp_gan_b512", "dcgan28", "cnn", "wgan_gp")
#: Adam's learning rate and betas per workload, as in workload_defs.build_side.
ADAM = {
    "mlp_gan_b64": (2e-4, (0.5, 0.999)), "mlp_gan_b512": (2e-4, (0.5, 0.999)),
    "dcgan28": (2e-4, (0.5, 0.999)), "cnn": (1e-3, (0.9, 0.999)), "wgan_gp": (1e-4, (0.5, 0.9)),
}  # fmt: skip


def make_nets(name: str, rng: np.random.Generator) -> dict[str, Net]:
    """The networks of workload ``name``, keyed and indexed like workload_defs' models
    (``rng`` draws the CNN's dropout masks); parameters are loaded later."""
    if name == "dcgan28":
        return {
            "G": Net([
                Linear(perm_out=hwc_perm(128, 7, 7)), Reshape((7, 7, 128)), BatchNorm(), Act(0),
                ConvTranspose2d(4, 2, 1, bias=False), BatchNorm(), Act(0),
                ConvTranspose2d(4, 2, 1), Act(None),
            ]),
            "D": Net([
                Conv2d(4, 2, 1), Act(0.2), Conv2d(4, 2, 1, bias=False), BatchNorm(), Act(0.2),
                Reshape(None), Linear(perm_in=hwc_perm(128, 7, 7)),
            ]),
        }  # fmt: skip
    if name == "cnn":
        return {
            "net": Net([
                Conv2d(3, 1, 1), Act(0), MaxPool2(), Conv2d(3, 1, 1), Act(0), MaxPool2(),
                Reshape(None), Linear(perm_in=hwc_perm(64, 7, 7)), Act(0), Dropout(0.5, rng),
                Linear(),
            ]),
        }  # fmt: skip
    # mlp_gan_b64, mlp_gan_b512 and wgan_gp: G 100-128-784, D 784-128-64-1
    return {
        "G": Net([Linear(), Act(0.2), Linear(), Act(None)]),
        "D": Net([Linear(), Act(0.2), Linear(), Act(0.2), Linear()]),
    }


def _channels_last(v: Any) -> Any:
    """A 4-d image batch as (N, H, W, C); lists (WGAN-GP's critic steps) item by item."""
    if isinstance(v, list):
        return [_channels_last(a) for a in v]
    return np.ascontiguousarray(v.transpose(0, 2, 3, 1)) if v.ndim == 4 else v


def _cast(v: Any, dtype: str) -> Any:
    """Float arrays (or lists of them) in ``dtype``; integer labels unchanged."""
    if isinstance(v, list):
        return [_cast(a, dtype) for a in v]
    return v.astype(dtype) if v.dtype.kind == "f" else v


# ------------------------------------------------------------------ the steps
class NumpyStep:
    """One workload's networks, optimisers and inputs; ``step()`` runs one iteration.

    Built from a PyTorch-layout state (as :meth:`workload_defs.Side.state` returns) and
    the workload's pre-generated inputs. With ``record_grads`` set (for checks; off while
    timing), ``grads`` holds after each step the gradients every optimiser step used, keyed
    and laid out like PyTorch's (for WGAN-GP, those of its last critic step and G step).
    """

    def __init__(self, name: str, state: dict[str, np.ndarray], inputs: list[dict], seed: int = 0):
        if name not in WORKLOADS:
            raise ValueError(f"no NumPy step for workload {name!r}; choose from {WORKLOADS}")
        self.name, self.i, self.grads, self.record_grads = name, 0, {}, False
        self.nets = make_nets(name, np.random.default_rng(seed))
        for m, net in self.nets.items():
            net.load({k[len(m) + 1 :]: v for k, v in state.items() if k.startswith(m + ".")})
        lr, betas = ADAM[name]
        self.opts = {m: Adam(net, lr, betas) for m, net in self.nets.items()}
        # channels-last inputs, converted once (as both frameworks convert theirs once)
        self.inputs = [{k: _channels_last(v) for k, v in s.items()} for s in inputs]
        self._step = {"cnn": self._classifier_step, "wgan_gp": self._wgan_gp_step}.get(
            name, self._gan_step
        )

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
        return self._step(inp)

    def _classifier_step(self, inp: dict) -> tuple[float]:
        net = self.nets["net"]
        logits, caches = net.forward(inp["x"])
        loss, dl = cross_entropy(logits, inp["y"])
        net.zero_grad()
        net.backward(caches, dl, need_dx=False)
        self._update("net")
        return (loss,)

    def _gan_step(self, inp: dict) -> tuple[float, float]:
        """One D step on real and detached fake data, one non-saturating G step (BCE)."""
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

    def _critic_step(self, x: np.ndarray, zd: np.ndarray, eps: np.ndarray) -> float:
        """One WGAN-GP critic step; returns loss_d = D(fake).mean() - D(x).mean() + gp."""
        G, D = self.nets["G"], self.nets["D"]
        fake, _ = G.forward(zd)
        x_hat = eps * x + (1.0 - eps) * fake
        out_hat, c_hat = D.forward(x_hat)
        # g = d D(x_hat).sum() / d x_hat: a backward pass of ones, without weight gradients
        g, dys = D.input_grad(c_hat, np.ones_like(out_hat))
        b = len(g)
        norm = np.sqrt((g * g).sum(1))
        gp = GP_LAMBDA * float(np.mean((norm - 1.0) ** 2))
        # d gp / d g; PyTorch's norm backward sends 0 where the norm is 0
        dnorm = GP_LAMBDA * 2.0 * (norm - 1.0) / b
        scale = np.divide(dnorm, norm, out=np.zeros_like(norm), where=norm > 0)
        lf, cf = D.forward(fake)
        lr, cr = D.forward(x)
        D.zero_grad()
        D.input_grad_backward(c_hat, dys, g * scale[:, None])
        D.backward(cf, np.full_like(lf, 1.0 / b), need_dx=False)
        D.backward(cr, np.full_like(lr, -1.0 / b), need_dx=False)
        self._update("D")
        return float(lf.mean()) - float(lr.mean()) + gp

    def _wgan_gp_step(self, inp: dict) -> tuple[float, float]:
        """N_CRITIC critic steps with gradient penalty, then one G step on -D(G(zg)).mean()."""
        for x, zd, eps in zip(inp["x"], inp["zd"], inp["eps"]):
            loss_d = self._critic_step(x, zd, eps)
        G, D = self.nets["G"], self.nets["D"]
        img, cg = G.forward(inp["zg"])
        out, cd = D.forward(img)
        dimg = D.backward(cd, np.full_like(out, -1.0 / len(out)), need_dx=True)
        G.zero_grad()
        G.backward(cg, dimg, need_dx=False)
        self._update("G")
        return loss_d, -float(out.mean())


def build_numpy_step(
    name: str, state: dict[str, np.ndarray], batch: int | None = None, seed: int = 0,
    dtype: str = "float32",
) -> NumpyStep:  # fmt: skip
    """The NumPy step of ``name`` from a PyTorch-layout ``state``, on the workload's inputs
    (``make_inputs(name, batch, seed)``) in ``dtype``."""
    batch = BATCH[name] if batch is None else batch
    inputs = [{k: _cast(v, dtype) for k, v in s.items()} for s in make_inputs(name, batch, seed)]
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
    around each GEMM call (the bound no NumPy program with these GEMMs can go under).

    Every layer calls ``numpy_layers.GEMM`` by its module-level name, so swapping it
    there times every product of the step."""
    spent = [0.0]

    def timed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        t0 = time.process_time()
        out = np.matmul(a, b)
        spent[0] += time.process_time() - t0
        return out

    saved, numpy_layers.GEMM = numpy_layers.GEMM, timed
    try:
        t0 = time.process_time()
        for _ in range(iters):
            ns.step()
        total = time.process_time() - t0
    finally:
        numpy_layers.GEMM = saved
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
