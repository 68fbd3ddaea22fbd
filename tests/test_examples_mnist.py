"""The MNIST examples on small subsets: each model learns well above chance (10%).

The full runs (and their accuracies) are in docs/mnist.md; these are the CI-sized
versions of the same code paths (real MNIST digits, the shipped test split when
the training split is absent).
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tapegrad as tg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import mnist_classifiers as mc  # noqa: E402


@pytest.mark.parametrize(
    "model,limit,epochs,lr,floor",
    [
        ("logreg", 2000, 1, 1e-3, 0.6),
        ("mlp", 2000, 1, 1e-3, 0.7),
        ("cnn", 1000, 1, 1e-3, 0.5),
        ("lstm", 1000, 2, 5e-3, 0.3),
    ],
)
def test_model_learns_on_a_subset(model, limit, epochs, lr, floor):
    r = mc.train(model, epochs=epochs, limit=limit, limit_test=1000, lr=lr, verbose=False)
    assert r["accuracy"] > floor, f"{model}: accuracy {r['accuracy']:.3f} <= {floor}"


def _torch_cnn():
    n = torch.nn
    return n.Sequential(
        n.Conv2d(1, 32, 3, padding=1),
        n.ReLU(),
        n.MaxPool2d(2),
        n.Conv2d(32, 64, 3, padding=1),
        n.ReLU(),
        n.MaxPool2d(2),
        n.Flatten(),
        n.Linear(3136, 128),
        n.ReLU(),
        n.Dropout(0.5),
        n.Linear(128, 10),
    )


def test_trained_weights_load_into_pytorch_and_back(tmp_path):
    from safetensors.torch import load_file, save_file

    r = mc.train("cnn", epochs=1, limit=256, limit_test=200, verbose=False)
    ours = r["model"]
    path = tmp_path / "cnn.safetensors"
    tg.save(ours.state_dict(), path)

    theirs = _torch_cnn()
    theirs.load_state_dict(load_file(str(path)))
    theirs.eval()
    ours.eval()
    x = mc.load_data(None, None, 200)["xte"]
    with torch.no_grad():
        logits_t = theirs(torch.tensor(x)).numpy()
    with tg.no_grad():
        logits_o = ours(tg.tensor(x))._array
    np.testing.assert_allclose(logits_o, logits_t, rtol=1e-4, atol=1e-4)
    assert (logits_o.argmax(1) == logits_t.argmax(1)).mean() == 1.0

    # and the reverse: a PyTorch model's weights into a fresh tapegrad model
    torch.manual_seed(1)
    other = _torch_cnn().eval()
    save_file(other.state_dict(), str(tmp_path / "torch.safetensors"))
    fresh = mc.build("cnn")
    fresh.load_state_dict(tg.load(tmp_path / "torch.safetensors"))
    fresh.eval()
    with torch.no_grad():
        expect = other(torch.tensor(x)).numpy()
    with tg.no_grad():
        got = fresh(tg.tensor(x))._array
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-4)


def test_cnn_training_steps_track_pytorch_in_lockstep():
    """Same initial weights and batches, dropout off: the losses of the first
    training steps agree to float32 precision (they drift apart later, as any two
    float32 implementations do)."""
    d = mc.load_data(None, 64 * 10, 10)
    ours = mc.build("cnn")
    ours[9].p = 0.0
    theirs = _torch_cnn()
    theirs[9].p = 0.0
    theirs.load_state_dict({k: torch.tensor(v._array.copy()) for k, v in ours.state_dict().items()})
    o1 = tg.optim.Adam(ours.parameters(), 1e-3)
    o2 = torch.optim.Adam(theirs.parameters(), 1e-3)
    for step in range(10):
        x, y = d["xtr"][step * 64 : (step + 1) * 64], d["ytr"][step * 64 : (step + 1) * 64]
        l1 = tg.nn.functional.cross_entropy(ours(tg.tensor(x)), tg.tensor(y))
        o1.zero_grad()
        l1.backward()
        o1.step()
        l2 = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        o2.zero_grad()
        l2.backward()
        o2.step()
        assert abs(l1.item() - l2.item()) <= 1e-4 * abs(l2.item()), f"step {step}"
    w1 = ours.state_dict()["7.weight"]._array
    np.testing.assert_allclose(w1, theirs.state_dict()["7.weight"].numpy(), atol=1e-4)


def _lr_sequence(opt, sched, steps):
    """The lr used by each of ``steps`` batches, then the lr after the last step."""
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradients: nothing moves, but PyTorch wants step() before sched.step()
        sched.step()
    return np.array(lrs), opt.param_groups[0]["lr"]


@pytest.mark.parametrize("steps", [7, 300])
def test_cosine_schedule_matches_pytorch_and_ends_at_zero(steps):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import mnist_cnn_torch  # noqa: PLC0415

    w = tg.tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    ours = tg.optim.Adam([w], lr=1e-3)
    lrs_o, last_o = _lr_sequence(ours, mc.make_scheduler(ours, "cosine", steps), steps)

    # the PyTorch script's scheduler, and PyTorch's own class built independently
    script = torch.optim.Adam([torch.zeros(3, requires_grad=True)], lr=1e-3)
    lrs_s, last_s = _lr_sequence(
        script, mnist_cnn_torch.make_scheduler(script, "cosine", steps), steps
    )
    ref = torch.optim.Adam([torch.zeros(3, requires_grad=True)], lr=1e-3)
    lrs_r, last_r = _lr_sequence(
        ref, torch.optim.lr_scheduler.CosineAnnealingLR(ref, T_max=steps), steps
    )

    np.testing.assert_allclose(lrs_o, lrs_r, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(lrs_s, lrs_r, rtol=1e-12, atol=1e-18)
    # the closed form: lr_t = 1e-3 (1 + cos(pi t / T)) / 2, from 1e-3 down to 0
    t = np.arange(steps)
    np.testing.assert_allclose(lrs_o, 1e-3 * (1 + np.cos(np.pi * t / steps)) / 2, rtol=1e-9)
    assert lrs_o[0] == 1e-3
    assert abs(last_o) < 1e-12 and abs(last_s) < 1e-12 and abs(last_r) < 1e-12


def test_constant_schedule_has_no_scheduler_and_bad_names_fail():
    w = tg.tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    opt = tg.optim.Adam([w], lr=1e-3)
    assert mc.make_scheduler(opt, "constant", 10) is None
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        mc.make_scheduler(opt, "linear", 10)


def test_training_with_cosine_steps_every_batch_and_ends_at_zero_lr():
    # 320 images, batch 64: 5 batches per epoch, 10 scheduler steps = T_max, so the lr
    # reaches 0 exactly at the end (a per-epoch step or a wrong T_max would leave it > 0).
    r = mc.train("logreg", epochs=2, limit=320, limit_test=100, verbose=False, schedule="cosine")
    assert abs(r["lr"]) < 1e-12
    r = mc.train("logreg", epochs=1, limit=320, limit_test=100, verbose=False)
    assert r["lr"] == 1e-3
