"""Trainer's learning-rate anneal: the schedule, resume, and the chunked reference."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data import toy
from tapegrad.gan.models import build_models
from tapegrad.gan.schedule import ANNEAL_EVERY
from tapegrad.gan.trainer import Trainer

LR_G, LR_D = 1e-3, 4e-3


def make(anneal: float, seed: int = 0) -> Trainer:
    tg.manual_seed(seed)
    G, D = build_models(
        "mixture", (2,), z_dim=2, pack=2, g_hidden=8, g_n_hidden=2, d_hidden=8, d_n_hidden=1,
        g_batch_norm=False,
    )  # fmt: skip
    x, _ = toy.grid(256, generator=np.random.Generator(np.random.PCG64([seed, 7])))
    return Trainer(
        G, D, "ns", x.numpy(), batch_size=32, lr_g=LR_G, lr_d=LR_D, betas_g=(0.0, 0.9),
        betas_d=(0.0, 0.9), anneal=anneal, seed=seed, log_every=10**9,
    )  # fmt: skip


def record_rates(tr: Trainer) -> list[tuple[float, float]]:
    seen: list[tuple[float, float]] = []
    step = tr.train_step

    def spy(batch):
        seen.append((tr.opt_g.param_groups[0]["lr"], tr.opt_d.param_groups[0]["lr"]))
        return step(batch)

    tr.train_step = spy  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize("steps,anneal", [(100, 0.5), (95, 1.0), (40, 0.0)])
def test_anneal_schedule(steps, anneal):
    tr = make(anneal)
    seen = record_rates(tr)
    tr.train(epochs=10**6, max_steps=steps)
    assert tr.step == steps and len(seen) == steps
    n = int(round(anneal * steps))
    for i, (lg, ld) in enumerate(seen):
        # constant before the anneal; then lr0 * remaining / n, refreshed every 10 steps
        f = 1.0 if i < steps - n else (steps - (i - (i - (steps - n)) % ANNEAL_EVERY)) / n
        assert lg == pytest.approx(LR_G * f) and ld == pytest.approx(LR_D * f)
    # the last step's rate, by hand: 100 steps, anneal 50 in chunks of 10 -> 10/50;
    # 95 steps, anneal 95 -> chunks start at 0, 10, ..., 90 -> 5/95
    last = {(100, 0.5): 10 / 50, (95, 1.0): 5 / 95, (40, 0.0): 1.0}[(steps, anneal)]
    assert ANNEAL_EVERY == 10 and seen[-1][0] == pytest.approx(LR_G * last)


def test_anneal_equals_setting_the_rates_by_hand_in_chunks():
    # the reference: a constant-rate Trainer whose rates are set by hand every 10 steps
    # (how the record of docs/gan_mixture.md was first trained)
    steps, anneal = 60, 0.5
    ref = make(0.0)
    n = int(round(anneal * steps))
    ref.train(epochs=10**6, max_steps=steps - n)
    while ref.step < steps:
        for opt, lr0 in ((ref.opt_g, LR_G), (ref.opt_d, LR_D)):
            opt.param_groups[0]["lr"] = lr0 * ((steps - ref.step) / n)
        ref.train(epochs=10**6, max_steps=min(steps, ref.step + 10))
    tr = make(anneal)
    tr.train(epochs=10**6, max_steps=steps)
    for (k, a), (_, b) in zip(ref.G.state_dict().items(), tr.G.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    assert tr.hparams["anneal"] == anneal


def test_anneal_resumes_on_the_same_schedule(tmp_path):
    whole = make(0.5)
    whole.train(epochs=10**6, max_steps=50)
    first = make(0.5)
    step = first.train_step

    def stop_at_37(batch):  # as Ctrl-C does: the run stops, its planned end unchanged
        first._stop = first.step == 36
        return step(batch)

    first.train_step = stop_at_37  # type: ignore[method-assign]
    # chunks of the anneal start at 25, 35, 45: this stops inside one
    assert first.train(epochs=10**6, max_steps=50) == "interrupted" and first.step == 37
    path = first.save_checkpoint(tmp_path / "c.safetensors")
    second = make(0.5)
    second.load_checkpoint(path)
    seen = record_rates(second)
    # the resumed call names the same end, so the schedule continues from step 37
    second.train(epochs=10**6, max_steps=50)
    assert seen[0][0] == pytest.approx(LR_G * (50 - 35) / 25)
    for (k, a), (_, b) in zip(whole.G.state_dict().items(), second.G.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_bad_anneal_is_refused():
    with pytest.raises(ValueError, match=r"anneal must be in \[0, 1\], got 1.5"):
        make(1.5)
