"""GAN models: shapes, construction errors, PyTorch twins (parameters, state-dict keys,
outputs on copied weights), DCGAN initialisation, and a smoke training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn as tnn

import tapegrad as tg
from tapegrad.gan import (
    MODELS,
    ConditionalDiscriminator,
    ConditionalGenerator,
    DCGANDiscriminator,
    DCGANGenerator,
    MixtureDiscriminator,
    MixtureGenerator,
    MLPDiscriminator,
    MLPGenerator,
    ProjectionDiscriminator,
    build_models,
    dcgan_valid_sizes,
    get_loss,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Torch's small convolutions run far slower with 2 threads on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def n_params(m) -> int:
    return sum(int(np.prod(p.shape)) for p in m.parameters())


# ------------------------------------------------------------------ torch twins
# Written out layer by layer from the architecture descriptions, not from our code.
class TMLPG(tnn.Module):
    def __init__(self, z=100, hidden=128, out=(1, 28, 28)):
        super().__init__()
        self.out = out
        self.net = tnn.Sequential(
            tnn.Linear(z, hidden),
            tnn.LeakyReLU(0.2),
            tnn.Linear(hidden, int(np.prod(out))),
            tnn.Tanh(),
        )

    def forward(self, z):
        return self.net(z).reshape((z.shape[0],) + self.out)


class TMLPD(tnn.Module):
    def __init__(self, n_in=784, h1=128, h2=64):
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Linear(n_in, h1), tnn.LeakyReLU(0.2), tnn.Linear(h1, h2), tnn.LeakyReLU(0.2)
        )
        self.head = tnn.Linear(h2, 1)

    def forward(self, x):
        return self.head(self.features(x.reshape(x.shape[0], -1)))


class TDCGAN28G(tnn.Module):
    def __init__(self, z=100, c=1, ngf=64):
        super().__init__()
        self.ngf = ngf
        self.project = tnn.Sequential(
            tnn.Linear(z, 2 * ngf * 49, bias=False), tnn.BatchNorm1d(2 * ngf * 49), tnn.ReLU()
        )
        self.net = tnn.Sequential(
            tnn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False),
            tnn.BatchNorm2d(ngf),
            tnn.ReLU(),
            tnn.ConvTranspose2d(ngf, c, 4, 2, 1),
            tnn.Tanh(),
        )

    def forward(self, z):
        return self.net(self.project(z).reshape(z.shape[0], 2 * self.ngf, 7, 7))


class TDCGAN28D(tnn.Module):
    def __init__(self, c=1, ndf=64, bn=True):
        super().__init__()
        mid = [tnn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=not bn)] + (
            [tnn.BatchNorm2d(2 * ndf)] if bn else []
        )
        self.features = tnn.Sequential(
            tnn.Conv2d(c, ndf, 4, 2, 1), tnn.LeakyReLU(0.2), *mid, tnn.LeakyReLU(0.2)
        )
        self.head = tnn.Linear(2 * ndf * 49, 1)

    def forward(self, x):
        return self.head(self.features(x).reshape(x.shape[0], -1))


def _up(cin, cout):
    return [tnn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), tnn.BatchNorm2d(cout), tnn.ReLU()]


def _down(cin, cout, bn=True):
    if bn:
        return [
            tnn.Conv2d(cin, cout, 4, 2, 1, bias=False),
            tnn.BatchNorm2d(cout),
            tnn.LeakyReLU(0.2),
        ]
    return [tnn.Conv2d(cin, cout, 4, 2, 1), tnn.LeakyReLU(0.2)]


class TDCGAN64G(tnn.Module):
    """The PyTorch DCGAN example's generator (bias kept on the last layer)."""

    def __init__(self, z=100, c=3, ngf=64):
        super().__init__()
        self.net = tnn.Sequential(
            tnn.ConvTranspose2d(z, ngf * 8, 4, 1, 0, bias=False),
            tnn.BatchNorm2d(ngf * 8),
            tnn.ReLU(),
            *_up(ngf * 8, ngf * 4),
            *_up(ngf * 4, ngf * 2),
            *_up(ngf * 2, ngf),
            tnn.ConvTranspose2d(ngf, c, 4, 2, 1),
            tnn.Tanh(),
        )

    def forward(self, z):
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class TDCGAN32G(tnn.Module):
    def __init__(self, z=100, c=3, ngf=64):
        super().__init__()
        self.net = tnn.Sequential(
            tnn.ConvTranspose2d(z, ngf * 4, 4, 1, 0, bias=False),
            tnn.BatchNorm2d(ngf * 4),
            tnn.ReLU(),
            *_up(ngf * 4, ngf * 2),
            *_up(ngf * 2, ngf),
            tnn.ConvTranspose2d(ngf, c, 4, 2, 1),
            tnn.Tanh(),
        )

    def forward(self, z):
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class TDCGAN64D(tnn.Module):
    def __init__(self, c=3, ndf=64, bn=True):
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Conv2d(c, ndf, 4, 2, 1),
            tnn.LeakyReLU(0.2),
            *_down(ndf, ndf * 2, bn),
            *_down(ndf * 2, ndf * 4, bn),
            *_down(ndf * 4, ndf * 8, bn),
        )
        self.head = tnn.Conv2d(ndf * 8, 1, 4, 1, 0)

    def forward(self, x):
        return self.head(self.features(x)).reshape(x.shape[0], 1)


class TDCGAN32D(tnn.Module):
    def __init__(self, c=3, ndf=64, bn=True):
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Conv2d(c, ndf, 4, 2, 1),
            tnn.LeakyReLU(0.2),
            *_down(ndf, ndf * 2, bn),
            *_down(ndf * 2, ndf * 4, bn),
        )
        self.head = tnn.Conv2d(ndf * 4, 1, 4, 1, 0)

    def forward(self, x):
        return self.head(self.features(x)).reshape(x.shape[0], 1)


class TMixG(tnn.Module):
    def __init__(self, z=2, hidden=400, n_hidden=4, batch_norm=True):
        super().__init__()
        layers, d = [], z
        for _ in range(n_hidden):
            if batch_norm:
                layers += [tnn.Linear(d, hidden, bias=False), tnn.BatchNorm1d(hidden), tnn.ReLU()]
            else:
                layers += [tnn.Linear(d, hidden), tnn.ReLU()]
            d = hidden
        self.net = tnn.Sequential(*layers, tnn.Linear(hidden, 2))

    def forward(self, z):
        return self.net(z)


class TMixD(tnn.Module):
    def __init__(self, pack=1):
        super().__init__()
        self.pack = pack
        self.features = tnn.Sequential(
            tnn.Linear(2 * pack, 200),
            tnn.LeakyReLU(0.2),
            tnn.Linear(200, 200),
            tnn.LeakyReLU(0.2),
            tnn.Linear(200, 200),
            tnn.LeakyReLU(0.2),
        )
        self.head = tnn.Linear(200, 1)

    def forward(self, x):
        return self.head(self.features(x.reshape(-1, 2 * self.pack)))


class TCondG(tnn.Module):
    def __init__(self, n_classes=10, z=100, backbone=None):
        super().__init__()
        self.embed = tnn.Embedding(n_classes, n_classes)
        self.backbone = backbone

    def forward(self, z, y):
        return self.backbone(torch.cat([z, self.embed(y)], 1))


class TCondD(tnn.Module):
    """Labels as extra channels (dcgan) or extra features (mlp)."""

    def __init__(self, n_classes, backbone, image=False):
        super().__init__()
        self.embed = tnn.Embedding(n_classes, n_classes)
        self.backbone = backbone
        self.image = image

    def forward(self, x, y):
        e = self.embed(y)
        if self.image:
            maps = e[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            return self.backbone(torch.cat([x, maps], 1))
        return self.backbone(torch.cat([x.reshape(x.shape[0], -1), e], 1))


class TProjD(tnn.Module):
    """Miyato & Koyama: psi(phi(x)) + <embed(y), phi(x)>, phi with global sum pooling."""

    def __init__(self, n_classes, features, f_dim, flat=False):
        super().__init__()
        self.flat = flat
        self.features = features
        self.psi = tnn.Linear(f_dim, 1)
        self.embed = tnn.Embedding(n_classes, f_dim)

    def forward(self, x, y):
        h = self.features(x.reshape(x.shape[0], -1) if self.flat else x)
        if h.dim() == 4:
            h = h.sum(dim=(2, 3))
        return self.psi(h) + (self.embed(y) * h).sum(1, keepdim=True)


def _copy_to_torch(m, t):
    """Load our state dict into the twin; the keys must be exactly torch's."""
    sd = m.state_dict()
    assert list(sd) == list(t.state_dict()), "state_dict keys differ from the torch twin's"
    t.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in sd.items()})


def _compare_forward(m, t, inputs, what):
    """Same outputs (train mode: BatchNorm on batch statistics) and input/param grads."""
    m.double()
    t.double()
    _copy_to_torch(m, t)
    xs = [tg.Tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    xt = [torch.from_numpy(a.copy()).requires_grad_(a.dtype.kind == "f") for a in inputs]
    y, yt = m(*xs), t(*xt)
    np.testing.assert_allclose(y._array, yt.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg=what)
    gy = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(tg.Tensor(gy))
    yt.backward(torch.from_numpy(gy))
    for (name, p), (_, q) in zip(m.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(
            p.grad._array, q.grad.numpy(), rtol=1e-7, atol=1e-10, err_msg=f"{what}: {name}"
        )
    for a, b in zip(xs, xt):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad._array, b.grad.numpy(), rtol=1e-7, atol=1e-10)


# ------------------------------------------------------------------ parameter counts
@pytest.mark.parametrize(
    "ours, twin",
    [
        (lambda: MLPGenerator(), lambda: TMLPG()),
        (lambda: MLPDiscriminator(), lambda: TMLPD()),
        (lambda: DCGANGenerator(100, (1, 28, 28)), lambda: TDCGAN28G()),
        (lambda: DCGANDiscriminator((1, 28, 28)), lambda: TDCGAN28D()),
        (lambda: DCGANDiscriminator((1, 28, 28), batch_norm=False), lambda: TDCGAN28D(bn=False)),
        (lambda: DCGANGenerator(100, (3, 64, 64)), lambda: TDCGAN64G()),
        (lambda: DCGANDiscriminator((3, 64, 64)), lambda: TDCGAN64D()),
        (lambda: DCGANDiscriminator((3, 64, 64), batch_norm=False), lambda: TDCGAN64D(bn=False)),
        (lambda: DCGANGenerator(128, (3, 32, 32)), lambda: TDCGAN32G(z=128)),
        (lambda: DCGANDiscriminator((3, 32, 32)), lambda: TDCGAN32D()),
        (lambda: MixtureGenerator(), lambda: TMixG()),
        (
            lambda: MixtureGenerator(hidden=16, n_hidden=3, batch_norm=False),
            lambda: TMixG(hidden=16, n_hidden=3, batch_norm=False),
        ),
        (lambda: MixtureDiscriminator(pack=4), lambda: TMixD(pack=4)),
    ],
)
def test_parameter_counts_and_keys_equal_torch(ours, twin):
    m, t = ours(), twin()
    assert n_params(m) == sum(p.numel() for p in t.parameters())
    assert list(m.state_dict()) == list(t.state_dict())
    for (name, p), (_, q) in zip(m.named_parameters(), t.named_parameters()):
        assert tuple(p.shape) == tuple(q.shape), name


def test_seed_mlp_gan_sizes():
    """The tutorial's sizes (docs/tutorials.md): 100 -> 128 -> 784 and 784 -> 128 -> 64 -> 1."""
    assert n_params(MLPGenerator()) == (100 * 128 + 128) + (128 * 784 + 784)
    assert n_params(MLPDiscriminator()) == (784 * 128 + 128) + (128 * 64 + 64) + (64 + 1)


# ------------------------------------------------------------------ outputs vs torch
def _z(n, k, seed=0):
    return np.random.default_rng(seed).standard_normal((n, k))


def _x(shape, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, shape)


@pytest.mark.parametrize(
    "ours, twin, inputs",
    [
        (lambda: MLPGenerator(16, hidden=(12,)), lambda: TMLPG(16, 12), [_z(3, 16)]),
        (lambda: MLPDiscriminator(hidden=(12, 6)), lambda: TMLPD(784, 12, 6), [_x((3, 1, 28, 28))]),
        (lambda: DCGANGenerator(8, (1, 28, 28), ngf=4), lambda: TDCGAN28G(8, 1, 4), [_z(3, 8)]),
        (
            lambda: DCGANDiscriminator((1, 28, 28), ndf=4),
            lambda: TDCGAN28D(1, 4),
            [_x((3, 1, 28, 28))],
        ),
        (lambda: DCGANGenerator(8, (3, 32, 32), ngf=4), lambda: TDCGAN32G(8, 3, 4), [_z(2, 8)]),
        (
            lambda: DCGANDiscriminator((3, 32, 32), ndf=4),
            lambda: TDCGAN32D(3, 4),
            [_x((2, 3, 32, 32))],
        ),
        (lambda: DCGANGenerator(8, (2, 64, 64), ngf=2), lambda: TDCGAN64G(8, 2, 2), [_z(2, 8)]),
        (
            lambda: DCGANDiscriminator((2, 64, 64), ndf=2, batch_norm=False),
            lambda: TDCGAN64D(2, 2, bn=False),
            [_x((2, 2, 64, 64))],
        ),
        (lambda: MixtureGenerator(), lambda: TMixG(), [_z(6, 2)]),
        (
            lambda: MixtureGenerator(hidden=16, n_hidden=3, batch_norm=False),
            lambda: TMixG(hidden=16, n_hidden=3, batch_norm=False),
            [_z(6, 2)],
        ),
        (lambda: MixtureDiscriminator(pack=3), lambda: TMixD(pack=3), [_z(6, 2)]),
    ],
)
def test_outputs_and_grads_equal_torch_on_copied_weights(ours, twin, inputs):
    _compare_forward(ours(), twin(), inputs, "model")


def test_conditional_models_equal_torch():
    y = np.array([0, 3, 9, 3])
    g = ConditionalGenerator(10, 8, (1, 28, 28), arch="dcgan", ngf=4)
    _compare_forward(g, TCondG(10, 8, TDCGAN28G(18, 1, 4)), [_z(4, 8), y], "cDCGAN G")
    g = ConditionalGenerator(10, 8, (1, 28, 28), arch="mlp", hidden=(12,))
    _compare_forward(g, TCondG(10, 8, TMLPG(18, 12)), [_z(4, 8), y], "cGAN-MLP G")
    d = ConditionalDiscriminator(10, (1, 28, 28), arch="dcgan", ndf=4)
    _compare_forward(d, TCondD(10, TDCGAN28D(11, 4), image=True), [_x((4, 1, 28, 28)), y], "cD")
    d = ConditionalDiscriminator(10, (1, 28, 28), arch="mlp", hidden=(12, 6))
    _compare_forward(d, TCondD(10, TMLPD(794, 12, 6)), [_x((4, 1, 28, 28)), y], "cD mlp")


def test_projection_discriminator_equals_torch():
    y = np.array([1, 0, 4, 4])
    d = ProjectionDiscriminator(5, (1, 28, 28), arch="dcgan", ndf=4)
    t = TProjD(5, TDCGAN28D(1, 4).features, 8)
    _compare_forward(d, t, [_x((4, 1, 28, 28)), y], "projection dcgan")
    d = ProjectionDiscriminator(5, (1, 28, 28), arch="mlp", hidden=(12, 6))
    t = TProjD(5, TMLPD(784, 12, 6).features, 6, flat=True)
    _compare_forward(d, t, [_x((4, 1, 28, 28)), y], "projection mlp")


def test_projection_term_depends_on_label():
    d = ProjectionDiscriminator(3, (4,), arch="mlp", hidden=(5,)).double()
    x = tg.Tensor(np.tile(_x((1, 4)), (3, 1)))
    out = d(x, np.array([0, 1, 2]))._array.ravel()
    h = d.features(x)._array[0]
    e = d.embed.weight.data
    # same x, different labels: the outputs differ exactly by <embed(y) - embed(y'), phi(x)>
    np.testing.assert_allclose(out - out[0], (e - e[0]) @ h, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("size", [16, 28, 32, 64])
def test_dcgan_shapes(size, c):
    g = DCGANGenerator(6, (c, size, size), ngf=2)
    d = DCGANDiscriminator((c, size, size), ndf=2)
    x = g(tg.randn(2, 6))
    assert x.shape == (2, c, size, size)
    assert np.abs(x._array).max() <= 1.0
    assert g(tg.randn(2, 6, 1, 1)).shape == (2, c, size, size)
    assert d(x).shape == (2, 1)


@pytest.mark.parametrize(
    "name, shape, n_classes, kw, x_shape",
    [
        ("mlp", (1, 28, 28), None, {}, (3, 1, 28, 28)),
        ("mlp", (3, 8, 8), None, dict(g_hidden=(16, 16), d_hidden=(8,)), (3, 3, 8, 8)),
        ("dcgan", (1, 28, 28), None, dict(ngf=4, ndf=4), (3, 1, 28, 28)),
        ("dcgan", (3, 32, 32), None, dict(ngf=4, ndf=4, batch_norm=False), (3, 3, 32, 32)),
        ("dcgan", (3, 64, 64), None, dict(ngf=2, ndf=2, spectral_norm=True), (3, 3, 64, 64)),
        ("mixture", (2,), None, dict(pack=3), (3, 2)),
        ("cgan-mlp", (1, 28, 28), 10, {}, (3, 1, 28, 28)),
        ("cdcgan", (1, 28, 28), 10, dict(ngf=4, ndf=4), (3, 1, 28, 28)),
        ("cdcgan", (3, 32, 32), 4, dict(ngf=4, ndf=4, embed_dim=2), (3, 3, 32, 32)),
        ("projection", (1, 28, 28), 10, dict(ngf=4, ndf=4), (3, 1, 28, 28)),
        ("projection", (1, 28, 28), 10, dict(arch="mlp", spectral_norm=True), (3, 1, 28, 28)),
    ],
)
def test_build_models_shapes(name, shape, n_classes, kw, x_shape):
    g, d = build_models(name, shape, 5, n_classes, **kw)
    assert g.z_dim == 5
    z = g.sample_z(3)
    assert z.shape == (3, 5) and z.dtype == np.float32
    args = () if n_classes is None else (np.array([0, 1, n_classes - 1]),)
    x = g(z, *args)
    assert x.shape == x_shape
    out = d(x, *args)
    assert out.shape == ((1, 1) if name == "mixture" else (3, 1))
    assert np.all(np.isfinite(out._array))


def test_build_models_routes_keywords():
    g, d = build_models("mlp", (1, 28, 28), 10, g_hidden=(32, 16), d_hidden=(8,))
    assert [m.out_features for m in g.net if isinstance(m, tg.nn.Linear)] == [32, 16, 784]
    assert [m.out_features for m in d.features if isinstance(m, tg.nn.Linear)] == [8]
    g, d = build_models("dcgan", (3, 32, 32), 10, ngf=4, ndf=6, batch_norm=False)
    assert g.ngf == 4 and d.ndf == 6
    assert not any(isinstance(m, tg.nn.BatchNorm2d) for m in d.modules())
    assert any(isinstance(m, tg.nn.BatchNorm2d) for m in g.modules())
    _, d = build_models("mixture", (2,), 2, pack=5)
    assert d.pack == 5
    _, d = build_models("projection", (1, 28, 28), 10, n_classes=3, ndf=4)
    assert isinstance(d, ProjectionDiscriminator) and d.n_classes == 3


def test_mixture_packing_groups_consecutive_samples():
    d = MixtureDiscriminator(pack=2).double()
    x = _z(6, 2)
    a = d(tg.Tensor(x))._array
    b = d(tg.Tensor(x.reshape(3, 4)))._array
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 1)


def test_mlp_discriminator_takes_flat_or_image_input():
    d = MLPDiscriminator()
    x = tg.randn(2, 1, 28, 28)
    np.testing.assert_array_equal(d(x)._array, d(x.reshape(2, 784))._array)


def test_sample_z_follows_model_dtype_and_generator():
    g = MLPGenerator(7).double()
    z = g.sample_z(4, generator=np.random.default_rng(3))
    assert z.dtype == np.float64 and z.shape == (4, 7) and not z.requires_grad
    np.testing.assert_array_equal(z._array, np.random.default_rng(3).standard_normal((4, 7)))


def test_spectral_norm_option():
    d = DCGANDiscriminator((1, 32, 32), ndf=2, batch_norm=False, spectral_norm=True)
    convs = [m for m in d.modules() if isinstance(m, tg.nn.Conv2d)]
    assert len(convs) == 4
    assert all("weight_orig" in m._parameters and "weight_u" in m._buffers for m in convs)
    d(tg.randn(2, 1, 32, 32)).sum().backward()
    assert all(m.weight_orig.grad is not None for m in convs)
    c = ConditionalDiscriminator(3, (1, 28, 28), arch="mlp", spectral_norm=True)
    assert "weight_orig" in c.embed._parameters


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("size", [30, 48, 8, 12, 100])
def test_dcgan_rejects_impossible_sizes(size):
    for make in (lambda s: DCGANGenerator(10, (1, s, s)), lambda s: DCGANDiscriminator((3, s, s))):
        with pytest.raises(
            ValueError, match=f"image size {size} is not supported; valid sizes are 28"
        ):
            make(size)
    with pytest.raises(ValueError, match=f"image size {size}"):
        build_models("dcgan", (1, size, size), 10)


def test_construction_errors():
    with pytest.raises(ValueError, match="DCGANGenerator: images must be square.*\\(1, 32, 16\\)"):
        DCGANGenerator(10, (1, 32, 16))
    with pytest.raises(ValueError, match="DCGANDiscriminator: image_shape must have 3 entries"):
        DCGANDiscriminator((28, 28))
    with pytest.raises(ValueError, match="ngf must be a positive int, got 0"):
        DCGANGenerator(10, (1, 28, 28), ngf=0)
    with pytest.raises(ValueError, match="MLPGenerator: z_dim must be a positive int"):
        MLPGenerator(-1)
    with pytest.raises(ValueError, match="arch must be 'mlp' or 'dcgan', got 'resnet'"):
        ConditionalGenerator(10, arch="resnet")
    with pytest.raises(ValueError, match="arch must be 'mlp' or 'dcgan'"):
        ProjectionDiscriminator(10, arch="resnet")
    with pytest.raises(
        ValueError,
        match="unknown GAN model 'wgan'; valid names: mlp, dcgan, mixture, cgan-mlp, cdcgan, "
        "projection",
    ):
        build_models("wgan", (1, 28, 28), 10)
    with pytest.raises(ValueError, match="'cdcgan' is conditional and needs n_classes"):
        build_models("cdcgan", (1, 28, 28), 10)
    assert MODELS == ("mlp", "dcgan", "mixture", "cgan-mlp", "cdcgan", "projection")
    assert dcgan_valid_sizes(128) == [16, 28, 32, 64, 128]


def test_forward_errors():
    g = MLPGenerator(8)
    with pytest.raises(
        ValueError, match=r"MLPGenerator: expected z of shape \(N, 8\), got \(2, 9\)"
    ):
        g(tg.randn(2, 9))
    with pytest.raises(
        ValueError, match=r"MLPDiscriminator: expected input .*784.*\(2, 1, 28, 27\)"
    ):
        MLPDiscriminator()(tg.randn(2, 1, 28, 27))
    with pytest.raises(
        ValueError, match=r"DCGANDiscriminator: expected input \(N, \*\(1, 28, 28\)\)"
    ):
        DCGANDiscriminator((1, 28, 28), ndf=2)(tg.randn(2, 3, 28, 28))
    with pytest.raises(ValueError, match="batch of 5 samples is not divisible by pack=2"):
        MixtureDiscriminator(pack=2)(tg.randn(5, 2))
    cg = ConditionalGenerator(4, 3, (1, 4, 4))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\), got values in \[0, 4\]"):
        cg(tg.randn(2, 3), np.array([0, 4]))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        cg(tg.randn(2, 3), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="labels must be integers"):
        cg(tg.randn(2, 3), np.array([0.0, 1.0]))


# ------------------------------------------------------------------ init
def test_dcgan_init_statistics():
    g = DCGANGenerator(100, (3, 64, 64), ngf=64)
    d = DCGANDiscriminator((3, 64, 64), ndf=64)
    for m in (g, d):
        ws = [
            x.weight._array.ravel()
            for x in m.modules()
            if isinstance(x, (tg.nn.Conv2d, tg.nn.ConvTranspose2d, tg.nn.Linear))
        ]
        w = np.concatenate(ws)  # ~2.6M (G) / ~2.8M (D) draws: tight bounds hold
        assert abs(w.mean()) < 1e-4 and abs(w.std() - 0.02) < 2e-4
        bn = np.concatenate(
            [x.weight.data for x in m.modules() if isinstance(x, tg.nn.BatchNorm2d)]
        )
        assert abs(bn.mean() - 1.0) < 0.005 and abs(bn.std() - 0.02) < 0.003  # ~900 draws
        for x in m.modules():
            if getattr(x, "bias", None) is not None:
                assert not np.any(x.bias.data)
    g28 = DCGANGenerator(100, (1, 28, 28))
    assert abs(g28.project[0].weight.data.std() - 0.02) < 3e-4
    assert abs(g28.project[1].weight.data.std() - 0.02) < 1e-3  # 6272 BatchNorm1d weights
    plain = DCGANGenerator(100, (1, 28, 28), init_weights=False)
    assert abs(plain.project[0].weight.data.std() - 0.02) > 0.01  # PyTorch's default init


# ------------------------------------------------------------------ smoke training
def test_mlp_gan_smoke_training_ns_loss():
    rng = np.random.default_rng(0)
    data = np.tanh(rng.standard_normal((64, 1, 28, 28))).astype(np.float32)
    g, d = build_models("mlp", (1, 28, 28), 100)
    loss = get_loss("ns")
    opt_g = tg.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = tg.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d0 = d.head.weight._array.copy()
    g0 = g.net[0].weight._array.copy()
    d_losses, g_losses = [], []
    for step in range(10):
        real = tg.Tensor(data[(step * 16) % 64 :][:16])
        fake = g(g.sample_z(16))
        d_loss = loss.d_loss(d(real), d(fake.detach()))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = loss.g_loss(d(fake))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        d_losses.append(d_loss.item())
        g_losses.append(g_loss.item())
    assert np.all(np.isfinite(d_losses)) and np.all(np.isfinite(g_losses))
    # D starts near chance (2 log 2) and learns to tell noise-like data from tanh(G)
    assert abs(d_losses[0] - 2 * np.log(2)) < 0.2
    assert d_losses[-1] < d_losses[0]
    assert not np.array_equal(d.head.weight.data, d0)
    assert not np.array_equal(g.net[0].weight.data, g0)


def test_mixture_generator_without_batch_norm_is_the_same_function_in_eval_mode():
    g = build_models("mixture", (2,), z_dim=2, g_hidden=8, g_n_hidden=2, g_batch_norm=False)[0]
    assert not any(type(m).__name__ == "BatchNorm1d" for m in g.modules())
    z = tg.tensor(_z(5, 2).astype(np.float32))
    with tg.no_grad():
        a = g(z)._array
        g.eval()
        b = g(z)._array
    np.testing.assert_array_equal(a, b)
