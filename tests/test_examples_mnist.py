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
        logits_o = ours(tg.tensor(x)).data
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
        got = fresh(tg.tensor(x)).data
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
    theirs.load_state_dict({k: torch.tensor(v.data.copy()) for k, v in ours.state_dict().items()})
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
    w1 = ours.state_dict()["7.weight"].data
    np.testing.assert_allclose(w1, theirs.state_dict()["7.weight"].numpy(), atol=1e-4)
