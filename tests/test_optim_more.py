"""Adadelta, Adamax, NAdam, RAdam, ASGD and LBFGS against torch.optim, step by step:
the same parameters and gradients, the parameters compared after every step
(tolerances as in test_optim: float32 differs from PyTorch's fused kernels in
the last bits)."""

import numpy as np
import pytest
import torch

import tapegrad as tg
from tapegrad import optim
from test_optim import TOL, _make_data, _set_grads, _tg_params, _torch_params

PAIRS = {
    "Adadelta": (optim.Adadelta, torch.optim.Adadelta),
    "Adamax": (optim.Adamax, torch.optim.Adamax),
    "NAdam": (optim.NAdam, torch.optim.NAdam),
    "RAdam": (optim.RAdam, torch.optim.RAdam),
    "ASGD": (optim.ASGD, torch.optim.ASGD),
}

CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.9), weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=10, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=3, maximize=True)),
]


def _case_id(case):
    return case[0] + "-" + ",".join(f"{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_torch_step_by_step(case, dtype):
    name, kw = case
    tg_cls, torch_cls = PAIRS[name]
    init, grads = _make_data(dtype, steps=40)
    ps, ts = _tg_params(init), _torch_params(init)
    opt, topt = tg_cls(ps, **kw), torch_cls(ts, **kw)
    for k, gs in enumerate(grads):
        _set_grads(ps, gs, "tg")
        _set_grads(ts, gs, "torch")
        opt.step()
        topt.step()
        for i, (p, t) in enumerate(zip(ps, ts)):
            assert p.dtype == dtype
            np.testing.assert_allclose(
                p._array,
                t.detach().numpy(),
                err_msg=f"step {k + 1}, parameter {i}",
                **TOL[np.dtype(dtype).type],
            )
    if name == "ASGD":  # the averaged parameters too
        for p, t in zip(ps, ts):
            np.testing.assert_allclose(
                opt.state[p]["ax"], topt.state[t]["ax"].numpy(), **TOL[np.dtype(dtype).type]
            )


def _rosenbrock(lib, x):
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


@pytest.mark.parametrize(
    "kw", [dict(), dict(lr=0.5, history_size=3, max_iter=7), dict(line_search_fn="strong_wolfe")]
)
def test_lbfgs_matches_torch_step_by_step(kw):
    x0 = np.array([-1.2, 1.0, 0.5, -0.3])
    x_g, x_t = tg.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    lr = kw.pop("lr", 0.1 if not kw.get("line_search_fn") else 1.0)
    o_g, o_t = optim.LBFGS([x_g], lr=lr, **kw), torch.optim.LBFGS([x_t], lr=lr, **kw)

    def closure(lib, x, opt):
        def f():
            opt.zero_grad()
            loss = _rosenbrock(lib, x)
            loss.backward()
            return loss

        return f

    for k in range(5):
        l_g = o_g.step(closure(tg, x_g, o_g))
        l_t = o_t.step(closure(torch, x_t, o_t))
        np.testing.assert_allclose(float(l_g), float(l_t.detach()), rtol=1e-9, err_msg=f"step {k}")
        np.testing.assert_allclose(
            x_g.detach().numpy(), x_t.detach().numpy(), rtol=1e-8, atol=1e-10, err_msg=f"step {k}"
        )
    assert o_g.state[x_g]["func_evals"] == o_t.state[x_t]["func_evals"]
    assert o_g.state[x_g]["n_iter"] == o_t.state[x_t]["n_iter"]


def test_lbfgs_rejects_unknown_line_search():
    with pytest.raises(ValueError, match="strong_wolfe"):
        optim.LBFGS([tg.zeros(2, requires_grad=True)], line_search_fn="armijo")
