"""tapegrad.optim.lr_scheduler against torch.optim.lr_scheduler.

Both compute the learning rates with the same Python float operations, so the
sequences are compared for exact equality, from the initial step made at
construction through 50 epochs, for two parameter groups with different lrs.
"""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

import tapegrad as tg
from tapegrad import optim
from tapegrad.optim import lr_scheduler as ls

EPOCHS = 50
LRS = (0.1, 0.03)


def _optimizers():
    p = [tg.Tensor(np.zeros(2), requires_grad=True) for _ in LRS]
    t = [torch.zeros(2, requires_grad=True) for _ in LRS]
    opt = optim.SGD([{"params": [q], "lr": lr} for q, lr in zip(p, LRS)], momentum=0.9)
    topt = torch.optim.SGD([{"params": [q], "lr": lr} for q, lr in zip(t, LRS)], momentum=0.9)
    return opt, topt


def _double(epoch):
    return 0.5 ** (epoch // 7)


def _warm(epoch):
    return min(1.0, (epoch + 1) / 10) * 0.97**epoch


class Factor:
    """A callable object: its attributes are saved in LambdaLR's state dict."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate**epoch


CASES = [
    ("StepLR", dict(step_size=7)),
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3)),
    ("MultiStepLR", dict(milestones=[40, 2])),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=50)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),  # past T_max: periodic branch
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.05)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.8, total_iters=20)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=50)),
    ("LambdaLR", dict(lr_lambda=_double)),
    ("LambdaLR", dict(lr_lambda=[_warm, lambda e: 1.0 / (e + 1)])),
]


def _ids(case):
    return case[0] + "-" + ",".join(f"{k}={getattr(v, '__name__', v)}" for k, v in case[1].items())


def _sequence(opt, sched, epochs=EPOCHS):
    """lrs after construction, then after each epoch's optimizer.step + scheduler.step."""
    seq = [list(sched.get_last_lr())]
    for _ in range(epochs):
        opt.step()
        sched.step()
        seq.append(list(sched.get_last_lr()))
        assert [g["lr"] for g in opt.param_groups] == seq[-1]
    return seq


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_sequence_matches_torch(case):
    name, kw = case
    opt, topt = _optimizers()
    sched = getattr(ls, name)(opt, **kw)
    tsched = getattr(tls, name)(topt, **kw)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    ours, theirs = _sequence(opt, sched), _sequence(topt, tsched)
    assert ours == theirs
    assert sched.last_epoch == tsched.last_epoch == EPOCHS


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_state_dict_resume(case):
    """Save after 20 epochs; a fresh optimizer + scheduler loading both state
    dicts continues with the same 30 learning rates as the uninterrupted run."""
    name, kw = case
    opt, _ = _optimizers()
    sched = getattr(ls, name)(opt, **kw)
    _sequence(opt, sched, 20)
    saved_opt = pickle.loads(pickle.dumps(opt.state_dict()))
    saved = copy.deepcopy(sched.state_dict())
    assert "optimizer" not in saved
    straight = _sequence(opt, sched, 30)

    opt2, _ = _optimizers()
    sched2 = getattr(ls, name)(opt2, **kw)  # scheduler first, then load (as in torch)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert _sequence(opt2, sched2, 30) == straight


def test_lambda_state_dict_saves_callable_objects_only():
    opt, topt = _optimizers()
    sched = ls.LambdaLR(opt, [Factor(0.9), _double])
    tsched = tls.LambdaLR(topt, [Factor(0.9), _double])
    sd, tsd = sched.state_dict(), tsched.state_dict()
    assert sd["lr_lambdas"] == tsd["lr_lambdas"] == [{"rate": 0.9}, None]
    sd["lr_lambdas"][0]["rate"] = 0.5
    other = ls.LambdaLR(opt, [Factor(0.9), _double])
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].rate == 0.5
    assert "lr_lambdas" in sd  # load_state_dict does not consume its argument


@pytest.mark.parametrize(
    "name, kw",
    [
        ("StepLR", dict(step_size=3)),
        ("ExponentialLR", dict(gamma=0.9)),
        ("CosineAnnealingLR", dict(T_max=20)),
        ("LinearLR", dict(start_factor=0.2, total_iters=8)),
        ("LambdaLR", dict(lr_lambda=_warm)),
    ],
)
def test_resume_with_last_epoch(name, kw):
    """last_epoch >= 0 resumes from group['initial_lr'] as torch does (the
    initial step then keeps the current lr for the recursive schedules)."""
    opt, topt = _optimizers()
    for o in (opt, topt):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"] * 2
    sched = getattr(ls, name)(opt, last_epoch=4, **kw)
    tsched = getattr(tls, name)(topt, last_epoch=4, **kw)
    assert _sequence(opt, sched, 20) == _sequence(topt, tsched, 20)


def test_resume_without_initial_lr():
    opt, _ = _optimizers()
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'.*last_epoch=3"):
        ls.StepLR(opt, step_size=2, last_epoch=3)


@pytest.mark.parametrize(
    "name, kw",
    [
        ("StepLR", dict(step_size=4, gamma=0.5)),
        ("MultiStepLR", dict(milestones=[3, 9])),
        ("ExponentialLR", dict(gamma=0.8)),
        ("CosineAnnealingLR", dict(T_max=12, eta_min=0.01)),
        ("LinearLR", dict(start_factor=0.2, total_iters=8)),
    ],
)
def test_step_with_epoch_uses_closed_form(name, kw):
    opt, topt = _optimizers()
    sched, tsched = getattr(ls, name)(opt, **kw), getattr(tls, name)(topt, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (5, 2, 11, 30):
            opt.step()
            topt.step()
            with pytest.warns(UserWarning, match="deprecated"):
                sched.step(epoch)
            tsched.step(epoch)
            assert sched.get_last_lr() == tsched.get_last_lr()


def test_get_lr_outside_step_warns():
    opt, _ = _optimizers()
    sched = ls.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_scheduler_drives_optimizer_updates():
    """The scheduled lr is the one the optimizer uses (SGD, so the change is visible)."""
    p = tg.Tensor(np.zeros(1), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = ls.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = tg.Tensor(np.ones(1))
        opt.step()
        sched.step()
    np.testing.assert_allclose(p._array, -(1.0 + 0.5 + 0.25))


@pytest.mark.parametrize(
    "make, err, match",
    [
        (lambda o: ls.StepLR(o, step_size=0), ValueError, r"StepLR: step_size .* got 0"),
        (lambda o: ls.CosineAnnealingLR(o, T_max=0), ValueError, r"T_max .* got 0"),
        (lambda o: ls.LinearLR(o, start_factor=0), ValueError, r"start_factor .* got 0"),
        (lambda o: ls.LinearLR(o, end_factor=1.5), ValueError, r"end_factor .* got 1\.5"),
        (lambda o: ls.LinearLR(o, total_iters=0), ValueError, r"total_iters .* got 0"),
        (lambda o: ls.LambdaLR(o, [_double]), ValueError, r"expected 2 lr_lambdas, got 1"),
    ],
)
def test_errors(make, err, match):
    opt, _ = _optimizers()
    with pytest.raises(err, match=match):
        make(opt)


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="SGD is not an Optimizer"):
        ls.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), step_size=2)
