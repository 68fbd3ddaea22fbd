"""OneCycleLR, CosineAnnealingWarmRestarts and ReduceLROnPlateau against PyTorch's:
the same learning rates (and cycled momenta) as the same floats, step by step."""

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from tapegrad.optim import lr_scheduler as ls
from test_lr_scheduler import _optimizers, _sequence


def _adams():
    import tapegrad as tg
    from tapegrad import optim

    p, t = tg.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    return optim.Adam([p], lr=0.01), torch.optim.Adam([t], lr=0.01)


CASES = [
    ("CosineAnnealingWarmRestarts", dict(T_0=7)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=50)),
    (
        "OneCycleLR",
        dict(
            max_lr=[0.5, 0.2],
            epochs=5,
            steps_per_epoch=10,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
        ),
    ),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=50, cycle_momentum=False, div_factor=10.0)),
]


@pytest.mark.parametrize("make", [_optimizers, _adams], ids=["SGD", "Adam"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{sorted(c[1].items())}")
def test_sequence_matches_torch(case, make):
    name, kw = case
    opt, topt = make()
    if isinstance(kw.get("max_lr"), list) and len(opt.param_groups) == 1:
        kw = dict(kw, max_lr=kw["max_lr"][0])
    sched, tsched = getattr(ls, name)(opt, **kw), getattr(tls, name)(topt, **kw)
    steps = 49 if name == "OneCycleLR" else 50
    assert _sequence(opt, sched, steps) == _sequence(topt, tsched, steps)
    for g, tgp in zip(opt.param_groups, topt.param_groups):
        for key in ("momentum", "betas"):
            if key in tgp:
                assert g[key] == tgp[key]


def test_one_cycle_momentum_cycles_like_torch():
    opt, topt = _optimizers()
    sched, tsched = (
        ls.OneCycleLR(opt, 1.0, total_steps=20),
        tls.OneCycleLR(topt, 1.0, total_steps=20),
    )
    for _ in range(19):
        opt.step(), topt.step(), sched.step(), tsched.step()
        assert [g["momentum"] for g in opt.param_groups] == [
            g["momentum"] for g in topt.param_groups
        ]
    with pytest.raises(ValueError, match="total_steps"):
        sched.step(), sched.step()


def test_warm_restarts_fractional_epochs_like_torch():
    opt, topt = _optimizers()
    sched = ls.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)
    tsched = tls.CosineAnnealingWarmRestarts(topt, T_0=4, T_mult=2)
    for e in np.arange(0, 20, 0.25):
        sched.step(float(e)), tsched.step(float(e))
        assert sched.get_last_lr() == tsched.get_last_lr()


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(mode="max", factor=0.5, patience=2, cooldown=1),
        dict(threshold_mode="abs", threshold=0.05, patience=1, min_lr=[0.02, 0.001]),
    ],
)
def test_reduce_on_plateau_matches_torch(kw):
    opt, topt = _optimizers()
    sched, tsched = ls.ReduceLROnPlateau(opt, **kw), tls.ReduceLROnPlateau(topt, **kw)
    metrics = np.concatenate(
        [np.linspace(1.0, 0.5, 8), np.full(15, 0.5), np.linspace(0.5, 0.8, 8), np.full(20, 0.49)]
    )
    for m in metrics:
        opt.step(), topt.step()
        sched.step(m), tsched.step(m)
        assert sched.get_last_lr() == tsched.get_last_lr()
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
    assert sched.num_bad_epochs == tsched.num_bad_epochs and sched.best == tsched.best
