"""tapegrad.optim against torch.optim: the same parameters, the same gradients.

Each test sets the same random gradients on ``.grad`` of tapegrad and PyTorch
parameters for 100 steps and compares the parameters. float64 agrees to 1e-6
relative (in practice ~1e-14). float32 is compared with rtol 1e-5, atol 1e-6:
PyTorch's CPU kernels fuse multiply-adds (FMA) in ``add(alpha=)``, ``addcmul``
and ``lerp`` and use a float32 sqrt that is not correctly rounded, while NumPy
rounds each operation, so the last bits differ (observed ~5e-7 relative after
100 steps).
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import tapegrad as tg
from helpers import noncontig
from tapegrad import optim

TOL = {np.float64: dict(rtol=1e-6, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
SHAPES = [(4, 3), (5,), (2, 3, 2)]
STEPS = 100

PAIRS = {
    "SGD": (optim.SGD, torch.optim.SGD),
    "Adam": (optim.Adam, torch.optim.Adam),
    "AdamW": (optim.AdamW, torch.optim.AdamW),
    "RMSprop": (optim.RMSprop, torch.optim.RMSprop),
    "Adagrad": (optim.Adagrad, torch.optim.Adagrad),
}

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.5))),  # 1 - beta1 >= 0.5: lerp's other form
    ("Adam", dict(lr=0.01, betas=(0.0, 0.9))),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True)),  # 1 - alpha >= 0.5 in lerp
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, maximize=True)),
]


def _case_id(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


def _make_data(dtype, steps=STEPS, seed=0):
    """Initial parameter values and a gradient per step for each parameter.

    Parameter 2 gets no gradient every third step, so skipping a parameter whose
    grad is None (and its own step count) is compared as well.
    """
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = []
    for k in range(steps):
        gs = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        if k % 3 == 1:
            gs[2] = None
        grads.append(gs)
    return init, grads


def _tg_params(init, noncontiguous=False):
    ps = []
    for a in init:
        p = tg.Tensor(a.copy(), requires_grad=True)
        if noncontiguous:
            p._array = noncontig(a)
        ps.append(p)
    return ps


def _torch_params(init):
    return [torch.tensor(a.copy(), requires_grad=True) for a in init]


def _set_grads(params, gs, lib):
    for p, g in zip(params, gs):
        if g is None:
            p.grad = None
        elif lib == "tg":
            p.grad = tg.Tensor(g.copy())
        else:
            p.grad = torch.from_numpy(g.copy())


def _run(opt, params, grads, lib):
    for gs in grads:
        _set_grads(params, gs, lib)
        opt.step()


def _assert_params_close(tg_params, torch_params, dtype):
    for i, (p, t) in enumerate(zip(tg_params, torch_params)):
        assert p._array.dtype == dtype, f"parameter {i}: dtype {p._array.dtype} != {dtype}"
        np.testing.assert_allclose(
            p._array, t.detach().numpy(), err_msg=f"parameter {i}", **TOL[np.dtype(dtype).type]
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_torch(case, dtype):
    name, kw = case
    tg_cls, torch_cls = PAIRS[name]
    init, grads = _make_data(dtype)
    ps, ts = _tg_params(init, noncontiguous=(dtype == np.float64)), _torch_params(init)
    opt, topt = tg_cls(ps, **kw), torch_cls(ts, **kw)
    _run(opt, ps, grads, "tg")
    _run(topt, ts, grads, "torch")
    _assert_params_close(ps, ts, dtype)
    # the state stays in the parameters' dtype, under torch's keys
    for p, t in zip(ps, ts):
        assert set(opt.state[p]) == set(topt.state[t]), (opt.state[p].keys(), topt.state[t])
        for k, v in opt.state[p].items():
            if k == "step":
                assert v == int(topt.state[t]["step"])
            elif v is not None:
                assert v.dtype == dtype, f"state {k!r} has dtype {v.dtype}"
                np.testing.assert_allclose(
                    v, topt.state[t][k].numpy(), err_msg=k, **TOL[np.dtype(dtype).type]
                )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(PAIRS))
def test_param_groups_vs_torch(name, dtype):
    """Groups with their own lr (and another hyperparameter), and a group added
    with add_param_group part way through, as in torch."""
    tg_cls, torch_cls = PAIRS[name]
    extra = {
        "SGD": dict(momentum=0.5),
        "Adam": dict(betas=(0.5, 0.9)),
        "AdamW": dict(weight_decay=0.3),
        "RMSprop": dict(centered=True),
        "Adagrad": dict(lr_decay=0.1),
    }[name]
    init, grads = _make_data(dtype, seed=1)
    results = []
    for lib, cls, mk in (("tg", tg_cls, _tg_params), ("torch", torch_cls, _torch_params)):
        ps = mk(init)
        opt = cls([{"params": [ps[0]], "lr": 0.05, **extra}, {"params": ps[1]}], lr=0.01)
        _run(opt, ps, grads[:30], lib)
        opt.add_param_group({"params": [ps[2]], "lr": 0.2})
        _run(opt, ps, grads[30:], lib)
        results.append((ps, opt))
    (ps, opt), (ts, topt) = results
    _assert_params_close(ps, ts, dtype)
    assert len(opt.param_groups) == 3
    for g, tgroup in zip(opt.param_groups, topt.param_groups):
        for k, v in g.items():
            if k != "params":
                assert v == tgroup[k], k


def test_closure_vs_torch():
    """step(closure) evaluates the loss with grad on (even under no_grad), returns it."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 4))
    p = tg.Tensor(a.copy(), requires_grad=True)
    t = torch.tensor(a.copy(), requires_grad=True)
    opt, topt = optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([t], lr=0.1, momentum=0.9)

    def closure():
        opt.zero_grad()
        loss = (p * p * p).sum()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = (t * t * t).sum()
        loss.backward()
        return loss

    for _ in range(10):
        with tg.no_grad():
            loss = opt.step(closure)
        tloss = topt.step(tclosure)
        np.testing.assert_allclose(loss._array, tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(p._array, t.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert tg.autograd.is_grad_enabled()
    assert p.is_leaf and p.requires_grad


def test_step_builds_no_graph_and_keeps_memory():
    p = tg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    buf = p._array
    opt = optim.Adam([p], lr=0.1)
    p.grad = tg.Tensor(np.full((2, 3), 0.5, np.float32))
    opt.step()
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    assert p._array is buf and p._array.dtype == np.float32  # updated in place
    np.testing.assert_allclose(p._array, 0.9, rtol=1e-6)  # first Adam step moves by lr


def test_no_grad_skips_parameter():
    ps = [tg.Tensor(np.ones(3), requires_grad=True) for _ in range(2)]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    ps[0].grad = tg.Tensor(np.ones(3))
    opt.step()
    np.testing.assert_array_equal(ps[1]._array, np.ones(3))
    assert ps[1] not in opt.state or not opt.state[ps[1]]
    np.testing.assert_allclose(ps[0]._array, 0.9)


def test_zero_grad():
    ps = [tg.Tensor(np.ones(3), requires_grad=True) for _ in range(2)]
    opt = optim.SGD(ps, lr=0.1)
    (ps[0] * ps[1]).sum().backward()
    g0 = ps[0].grad
    opt.zero_grad(set_to_none=False)
    assert ps[0].grad is g0, "set_to_none=False zeroes in place"
    np.testing.assert_array_equal(g0._array, 0)
    assert ps[0].grad.grad_fn is None
    opt.zero_grad()
    assert ps[0].grad is None and ps[1].grad is None


# ----------------------------------------------------------------- state dicts
ROUND_TRIP = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ROUND_TRIP, ids=_case_id)
def test_state_dict_round_trip_bit_for_bit(case, dtype):
    """50 steps, save, load into a fresh optimizer, 50 more == 100 straight."""
    name, kw = case
    cls = PAIRS[name][0]
    init, grads = _make_data(dtype, seed=2)
    ps = _tg_params(init)
    opt = cls([{"params": ps[:1], "lr": 0.02}, {"params": ps[1:]}], **kw)
    _run(opt, ps, grads[:50], "tg")
    saved = opt.state_dict()
    saved_copy = copy.deepcopy(saved)
    mid = [p._array.copy() for p in ps]
    _run(opt, ps, grads[50:], "tg")  # 100 straight

    # the saved dict holds copies: training on did not change it
    for i, s in saved["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, saved_copy["state"][i][k], err_msg=k)

    # pickle as a stand-in for saving to disk
    loaded = pickle.loads(pickle.dumps(saved))
    qs = _tg_params(mid)
    opt2 = cls([{"params": qs[:1]}, {"params": qs[1:]}], lr=0.5)  # hyperparameters come back
    opt2.load_state_dict(loaded)
    assert opt2.param_groups[0]["lr"] == 0.02
    for i, q in enumerate(qs):  # loaded arrays are copies, not aliases of the dict
        for k, v in opt2.state[q].items():
            if isinstance(v, np.ndarray):
                assert not np.shares_memory(v, loaded["state"][i][k]), k
    _run(opt2, qs, grads[50:], "tg")
    for p, q in zip(ps, qs):
        np.testing.assert_array_equal(p._array, q._array)


def _torch_state_to_numpy(sd):
    return {
        "state": {
            i: {k: (v.numpy().copy() if torch.is_tensor(v) else v) for k, v in s.items()}
            for i, s in sd["state"].items()
        },
        "param_groups": copy.deepcopy(sd["param_groups"]),
    }


@pytest.mark.parametrize("case", ROUND_TRIP, ids=_case_id)
def test_load_torch_state_dict(case):
    """A torch optimizer's state dict, converted to NumPy, continues in tapegrad."""
    name, kw = case
    tg_cls, torch_cls = PAIRS[name]
    init, grads = _make_data(np.float64, seed=4)
    ts = _torch_params(init)
    topt = torch_cls([{"params": ts[:1], "lr": 0.02}, {"params": ts[1:]}], **kw)
    _run(topt, ts, grads[:50], "torch")
    ps = _tg_params([t.detach().numpy() for t in ts])
    opt = tg_cls([{"params": ps[:1]}, {"params": ps[1:]}], lr=0.5)
    opt.load_state_dict(_torch_state_to_numpy(topt.state_dict()))
    if "step" in topt.state[ts[0]]:
        assert isinstance(opt.state[ps[0]]["step"], int)
    _run(topt, ts, grads[50:], "torch")
    _run(opt, ps, grads[50:], "tg")
    _assert_params_close(ps, ts, np.float64)


def test_load_state_dict_casts_to_param_dtype():
    p = tg.Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = optim.Adam([p])
    sd = {
        "state": {0: {"step": 2.0, "exp_avg": np.ones(3), "exp_avg_sq": np.ones(3)}},
        "param_groups": [dict(opt.state_dict()["param_groups"][0])],
    }
    opt.load_state_dict(sd)
    assert opt.state[p]["exp_avg"].dtype == np.float32
    assert opt.state[p]["step"] == 2


def test_load_state_dict_errors():
    ps = [tg.Tensor(np.zeros(3), requires_grad=True) for _ in range(2)]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = tg.Tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    other = optim.SGD([{"params": ps[:1]}, {"params": ps[1:]}], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="2 parameter groups.*1 parameter groups|has 1 param"):
        other.load_state_dict(sd)
    one = optim.SGD(ps[:1], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the state dict, 1"):
        one.load_state_dict(sd)
    bad = copy.deepcopy(sd)
    bad["state"][1]["momentum_buffer"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"'momentum_buffer' has shape \(4,\).*shape \(3,\)"):
        opt.load_state_dict(bad)


def test_adamw_stays_decoupled_after_load():
    p = tg.Tensor(np.zeros(3), requires_grad=True)
    sd = optim.Adam([p]).state_dict()
    opt = optim.AdamW([p])
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", list(PAIRS))
def test_negative_lr(name):
    p = tg.Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match=rf"{name}: invalid learning rate lr=-0\.5"):
        PAIRS[name][0]([p], lr=-0.5)
    with pytest.raises(ValueError, match=rf"{name}: invalid learning rate lr=-1"):
        PAIRS[name][0]([{"params": [p], "lr": -1}])


@pytest.mark.parametrize(
    "cls, kw, match",
    [
        (optim.Adam, dict(betas=(1.0, 0.999)), r"Adam: invalid beta1 \(betas\[0\]\)=1\.0"),
        (optim.Adam, dict(betas=(0.9, -0.1)), r"Adam: invalid beta2 \(betas\[1\]\)=-0\.1"),
        (optim.AdamW, dict(betas=(0.9, 1.5)), r"AdamW: invalid beta2 \(betas\[1\]\)=1\.5"),
        (optim.Adam, dict(betas=(0.9,)), r"Adam: betas must be a pair"),
        (optim.Adam, dict(eps=-1e-8), r"Adam: invalid eps=-1e-08"),
        (optim.Adam, dict(weight_decay=-1), r"Adam: invalid weight_decay=-1"),
        (optim.SGD, dict(momentum=-0.1), r"SGD: invalid momentum=-0\.1"),
        (optim.SGD, dict(nesterov=True), r"SGD: Nesterov momentum needs momentum > 0"),
        (optim.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), r"dampening=0\.1"),
        (optim.RMSprop, dict(alpha=-0.5), r"RMSprop: invalid alpha=-0\.5"),
        (optim.RMSprop, dict(eps=-1.0), r"RMSprop: invalid eps=-1\.0"),
        (optim.Adagrad, dict(lr_decay=-0.1), r"Adagrad: invalid lr_decay=-0\.1"),
        (optim.Adagrad, dict(eps=float("nan")), r"Adagrad: invalid eps=nan"),
        (
            optim.Adagrad,
            dict(initial_accumulator_value=-1),
            r"Adagrad: invalid initial_accumulator_value=-1",
        ),
    ],
)
def test_bad_hyperparameters(cls, kw, match):
    p = tg.Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match=match):
        cls([p], **kw)


def test_bad_parameters():
    p = tg.Tensor(np.zeros(3), requires_grad=True)
    q = tg.Tensor(np.zeros((2, 2)), requires_grad=True)
    with pytest.raises(ValueError, match=r"parameter 1 \(shape \(3,\)\) appears more than once"):
        optim.SGD([p, p])
    opt = optim.SGD([p])
    with pytest.raises(ValueError, match=r"parameter 1 \(shape \(3,\)\) appears more than once"):
        opt.add_param_group({"params": [q, p]})
    with pytest.raises(ValueError, match="appears more than once"):
        optim.Adam([{"params": [p]}, {"params": [q, p]}])
    with pytest.raises(TypeError, match="floating-point.*parameter 0 .shape .3,.. has dtype int64"):
        optim.SGD([tg.Tensor(np.arange(3))])
    with pytest.raises(ValueError, match=r"non-leaf Tensor \(parameter 0, shape \(3,\)\)"):
        optim.SGD([p * 2])
    with pytest.raises(TypeError, match="parameter 1 is ndarray"):
        optim.SGD([p, np.zeros(3)])
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({p})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])


def test_bad_grad_shape():
    p = tg.Tensor(np.zeros(3), requires_grad=True)
    opt = optim.Adam([p])
    p.grad = tg.Tensor(np.zeros(4))
    with pytest.raises(ValueError, match=r"Adam: gradient of shape \(4,\) for a parameter of"):
        opt.step()


def test_repr_names_groups():
    p = tg.Tensor(np.zeros(3), requires_grad=True)
    r = repr(optim.Adam([p], lr=0.5))
    assert r.startswith("Adam (") and "Parameter Group 0" in r and "lr: 0.5" in r
