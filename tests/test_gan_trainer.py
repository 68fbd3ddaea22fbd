"""GAN trainer: exact resume, NaN stop, Ctrl-C, run folder contents."""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest
from PIL import Image

import tapegrad as tg
from tapegrad.data import load_mnist_arrays
from tapegrad.gan.losses import GANLoss, get_loss
from tapegrad.gan.models import build_models
from tapegrad.gan.runs import image_grid
from tapegrad.gan.trainer import Trainer, TrainingDiverged, scale_data

N_IMAGES = 256
BATCH = 32  # 8 steps per epoch


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    x, _ = load_mnist_arrays(train=False)
    return x[:N_IMAGES, None]


def make(images, out_dir, loss="ns", n_critic=1, ema=None, seed=0, **kw):
    tg.manual_seed(seed)
    G, D = build_models(
        "mlp", (1, 28, 28), 8, g_hidden=(16,), d_hidden=(16, 8), **kw.pop("model_kw", {})
    )
    return Trainer(
        G,
        D,
        loss,
        images,
        batch_size=BATCH,
        n_critic=n_critic,
        ema_decay=ema,
        seed=seed,
        out_dir=out_dir,
        n_samples=16,
        **kw,
    )


def params(tr: Trainer) -> list[np.ndarray]:
    out = [p._array.copy() for p in tr.G.parameters()] + [
        p._array.copy() for p in tr.D.parameters()
    ]
    if tr.ema is not None:
        out += [v.copy() for v in tr.ema.values()]
    return out


@pytest.mark.parametrize(
    "loss,n_critic,ema,clip",
    [("ns", 1, None, None), ("wgan-gp", 2, 0.9, 1.0), ("wgan", 1, None, None)],
)
def test_resume_is_bit_exact(images, tmp_path, loss, n_critic, ema, clip):
    n = 5  # 2n = 10 steps crosses the 8-step epoch boundary; the resume happens mid-epoch
    a = make(images, tmp_path / "a", loss, n_critic, ema, grad_clip=clip)
    assert a.train(epochs=5, max_steps=2 * n) == "max_steps"

    b = make(images, tmp_path / "b", loss, n_critic, ema, grad_clip=clip)
    b.train(epochs=5, max_steps=n)
    ckpt = tmp_path / "b" / "checkpoints" / "last.safetensors"
    assert tg.load(ckpt)["step"] == n
    tg.manual_seed(1234)  # the fresh trainer must not depend on the global RNG's state
    c = make(images, tmp_path / "b", loss, n_critic, ema, seed=0, grad_clip=clip)
    c.load_checkpoint(ckpt)
    assert (c.step, c.epoch) == (n, 0)
    c.train(epochs=5, max_steps=2 * n)
    assert (c.step, c.epoch) == (a.step, a.epoch) == (2 * n, 1)
    pa, pc = params(a), params(c)
    assert len(pa) == len(pc)
    for x, y in zip(pa, pc):
        assert np.array_equal(x, y)
    # the resumed run's log equals the uninterrupted one's (without timings)
    ra = [json.loads(s) for s in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    rc = [json.loads(s) for s in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    for r in ra + rc:
        r.pop("seconds", None)
    assert ra == rc


def test_training_continues_in_process_like_a_single_call(images, tmp_path):
    a = make(images, None)
    a.train(epochs=2, max_steps=11)
    b = make(images, None)
    b.train(epochs=2, max_steps=3)
    b.train(epochs=2, max_steps=11)
    for x, y in zip(params(a), params(b)):
        assert np.array_equal(x, y)


class FailingLoss(GANLoss):
    """The ns loss whose D (or G) loss is NaN from the ``k``-th call on."""

    def __init__(self, k: int, which: str = "d", value: float = float("nan")) -> None:
        base = get_loss("ns")
        super().__init__("ns", self._d, self._g)
        self.base, self.k, self.which, self.value = base, k, which, value
        self.calls = {"d": 0, "g": 0}

    def _bad(self, out: tg.Tensor, which: str) -> tg.Tensor:
        self.calls[which] += 1
        if which == self.which and self.calls[which] >= self.k:
            return out * self.value
        return out

    def _d(self, real, fake):
        return self._bad(self.base.d_loss(real, fake), "d")

    def _g(self, fake):
        return self._bad(self.base.g_loss(fake), "g")


@pytest.mark.parametrize(
    "which,value,what", [("d", float("nan"), "D loss"), ("g", float("inf"), "G loss")]
)
def test_nan_stops_and_keeps_last_checkpoint(images, tmp_path, which, value, what):
    tr = make(images, tmp_path, FailingLoss(7, which, value))
    tr.train(epochs=3, max_steps=4)
    ckpt = tmp_path / "checkpoints" / "last.safetensors"
    before = ckpt.read_bytes()
    with pytest.raises(TrainingDiverged, match=rf"step 7 .*{what} is (nan|inf)"):
        tr.train(epochs=3)
    assert ckpt.read_bytes() == before
    assert tg.load(ckpt)["step"] == 4


def test_sigint_stops_cleanly_with_a_checkpoint(images, tmp_path):
    class Interrupting(FailingLoss):
        def _bad(self, out, which):
            self.calls[which] += 1
            if which == "d" and self.calls["d"] == 3:
                signal.raise_signal(signal.SIGINT)
            return out

    tr = make(images, tmp_path, Interrupting(0))
    assert tr.train(epochs=3) == "interrupted"
    assert tr.step == 3  # the step in progress finished
    state = tg.load(tmp_path / "checkpoints" / "last.safetensors")
    assert state["step"] == 3
    # and the run continues exactly from there
    ref = make(images, None)
    ref.train(epochs=3, max_steps=6)
    again = make(images, tmp_path)
    again.load_checkpoint()
    again.train(epochs=3, max_steps=6)
    for x, y in zip(params(ref), params(again)):
        assert np.array_equal(x, y)


def test_run_folder_contents(images, tmp_path):
    tr = make(images, tmp_path, keep_epoch_checkpoints=True)
    assert tr.train(epochs=2) == "done"
    assert tr.step == 16 and tr.epoch == 2
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["trainer"]["batch_size"] == BATCH and cfg["trainer"]["loss"] == "ns"
    recs = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in recs if r["kind"] == "step"]
    epochs = [r for r in recs if r["kind"] == "epoch"]
    assert [r["step"] for r in steps] == list(range(1, 17))
    assert [r["epoch"] for r in epochs] == [1, 2]
    for r in steps:
        assert 0.0 <= r["d_real"] <= 1.0 and 0.0 <= r["d_fake"] <= 1.0  # sigmoids for ns
        assert np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"])
    mean_d = np.mean([r["d_loss"] for r in steps if r["epoch"] == 1])
    assert epochs[0]["d_loss"] == pytest.approx(mean_d)
    for e in (1, 2):
        with Image.open(tmp_path / "samples" / f"epoch_{e:03d}.png") as im:
            assert im.size == (4 * 30 + 2, 4 * 30 + 2)  # 16 tiles of 28 + 2 padding
        assert tg.load(tmp_path / "checkpoints" / f"epoch_{e:03d}.safetensors")["epoch"] == e
    with Image.open(tmp_path / "curves.png") as im:
        assert im.size[0] > 100
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]  # no leftovers


def test_raw_outputs_logged_for_wgan_and_mixture_scatter(tmp_path):
    pts, _ = tg.data.ring(256, generator=0)
    tg.manual_seed(0)
    G, D = build_models("mixture", (2,), 2, hidden=8, n_hidden=1)
    tr = Trainer(G, D, "wgan", pts, batch_size=BATCH, out_dir=tmp_path, n_samples=32)
    tr.train(epochs=1)
    recs = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    step = recs[0]
    # raw critic means: D(x) - D(G(z)) must equal minus the wgan D loss
    assert step["d_real"] - step["d_fake"] == pytest.approx(-step["d_loss"], rel=1e-4, abs=1e-6)
    with Image.open(tmp_path / "samples" / "epoch_001.png") as im:
        assert im.format == "PNG"
    assert np.array_equal(scale_data(pts), pts._array)  # points are not rescaled


def test_scale_data_and_grid():
    u = np.array([[[[0, 255]]]], dtype=np.uint8)
    assert np.array_equal(scale_data(u), np.array([[[[-1.0, 1.0]]]], np.float32))
    f = np.array([[[[0.0, 0.5, 1.0]]]], dtype=np.float64)
    out = scale_data(f)
    assert out.dtype == np.float32 and np.allclose(out, [[[[-1.0, 0.0, 1.0]]]])
    with pytest.raises(ValueError, match="in \\[0, 1\\] or \\[-1, 1\\]"):
        scale_data(f * 3)
    g = image_grid(np.ones((3, 1, 2, 2)), nrow=2, padding=1)
    assert g.shape == (2 * 3 + 1, 2 * 3 + 1) and g.max() == 255 and g[0, 0] == 0
    assert image_grid(np.zeros((2, 3, 4, 4))).shape[-1] == 3


def test_bad_settings(images):
    with pytest.raises(ValueError, match="n_critic"):
        make(images, None, n_critic=0)
    with pytest.raises(ValueError, match="fewer than one batch"):
        make(images[:10], None)
    with pytest.raises(ValueError, match="unknown GAN loss 'nope'"):
        make(images, None, loss="nope")


def test_ema_averages_batchnorm_statistics_with_the_weights(images, tmp_path):
    # A generator with BatchNorm: EMA weights must be used with EMA running
    # statistics, not with the live model's (which track the live weights).
    tg.manual_seed(3)
    G, D = build_models("dcgan", (1, 28, 28), 8, ngf=8, ndf=8)
    tr = Trainer(
        G, D, "ns", images, batch_size=BATCH, ema_decay=0.5, seed=3, out_dir=tmp_path, n_samples=4
    )
    bn_keys = [k for k, b in G.named_buffers() if b._array.dtype.kind == "f"]
    assert bn_keys and all(k in tr.ema for k in bn_keys)
    buffers0 = {k: tr.ema[k].copy() for k in bn_keys}
    tr.train(1, max_steps=3)
    live = {k: v._array.copy() for k, v in list(G.named_parameters()) + list(G.named_buffers())}
    assert any(not np.array_equal(tr.ema[k], buffers0[k]) for k in bn_keys)
    assert any(not np.array_equal(tr.ema[k], live[k]) for k in bn_keys)

    z = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    out = tr.generate(z=z)
    # The same numbers through an independent path: a second G loaded with the
    # EMA values (parameters and buffers) as a state dict, in eval mode.
    tg.manual_seed(3)
    G2, _ = build_models("dcgan", (1, 28, 28), 8, ngf=8, ndf=8)
    state = {k: tg.tensor(v._array.copy()) for k, v in G.state_dict().items()}
    state.update({k: tg.tensor(v.copy()) for k, v in tr.ema.items()})
    G2.load_state_dict(state)
    G2.eval()
    with tg.no_grad():
        expected = G2(tg.tensor(z))._array
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # G itself is left as it was: live weights and statistics, training mode.
    for k, v in list(G.named_parameters()) + list(G.named_buffers()):
        np.testing.assert_array_equal(v._array, live[k])
    assert G.training


def test_r1_in_the_loss_objects_d_step_matches_pytorch():
    """``get_loss("ns", r1=gamma)``: D's loss is the ns loss plus gamma/2 E||grad_x D(x)||^2,
    and its gradient with respect to D's weights (a double backward) is PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w1, b1 = (
        rng.standard_normal((6, 4)).astype(np.float32),
        rng.standard_normal(6).astype(np.float32),
    )
    w2, b2 = (
        rng.standard_normal((1, 6)).astype(np.float32),
        rng.standard_normal(1).astype(np.float32),
    )
    real = rng.standard_normal((5, 4)).astype(np.float32)
    fake = rng.standard_normal((5, 4)).astype(np.float32)
    D = tg.nn.Sequential(tg.nn.Linear(4, 6), tg.nn.LeakyReLU(0.2), tg.nn.Linear(6, 1))
    for p, v in zip(D.parameters(), (w1, b1, w2, b2)):
        p._array[...] = v
    loss, _, _ = get_loss("ns", r1=3.0).discriminator_loss(D, tg.tensor(real), tg.tensor(fake))
    loss.backward()

    tw = [torch.tensor(v, requires_grad=True) for v in (w1, b1, w2, b2)]

    def td(x):
        h = torch.nn.functional.leaky_relu(x @ tw[0].T + tw[1], 0.2)
        return h @ tw[2].T + tw[3]

    xr = torch.tensor(real, requires_grad=True)
    out_r, out_f = td(xr), td(torch.tensor(fake))
    (g,) = torch.autograd.grad(out_r.sum(), xr, create_graph=True)
    sp = torch.nn.functional.softplus
    ref = sp(-out_r).mean() + sp(out_f).mean() + 1.5 * g.pow(2).sum(1).mean()
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    for p, t in zip(D.parameters(), tw):
        np.testing.assert_allclose(p.grad._array, t.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,cls", [("sgd", "SGD"), ("rmsprop", "RMSprop"), ("adam", "Adam")])
def test_the_optimizer_is_chosen_by_name_and_resumes(images, tmp_path, name, cls):
    a = make(images, tmp_path / "a", optimizer=name, momentum=0.5 if name != "adam" else 0.0)
    assert type(a.opt_g).__name__ == type(a.opt_d).__name__ == cls
    a.train(epochs=2, max_steps=10)
    b = make(images, tmp_path / "b", optimizer=name, momentum=0.5 if name != "adam" else 0.0)
    b.train(epochs=2, max_steps=5)
    c = make(images, tmp_path / "b", optimizer=name, momentum=0.5 if name != "adam" else 0.0)
    c.load_checkpoint()
    c.train(epochs=2, max_steps=10)
    for x, y in zip(params(a), params(c)):
        assert np.array_equal(x, y)
