"""Tensor-level API a PyTorch script uses, against PyTorch: ``.data``, the ``new_*``
constructors, creation keywords (dtype, device, requires_grad, generator),
``from_numpy``, ``Generator``, devices and ``inference_mode``."""

import numpy as np
import pytest
import torch

import tapegrad as tg


def _dt(t):
    return str(t.dtype).removeprefix("torch.")


# -------------------------------------------------------------------- .data
def test_data_shares_memory_and_is_outside_the_graph():
    for lib in (tg, torch):
        w = lib.ones(3, requires_grad=True)
        d = w.data
        assert not d.requires_grad and d.grad_fn is None
        d.mul_(2.0)  # through .data: no error, and w sees it
        assert w.tolist() == [2.0, 2.0, 2.0]
        y = (w * w).sum()
        y.backward()
        assert w.grad.tolist() == [4.0, 4.0, 4.0]


def test_data_assignment_replaces_the_values():
    for lib in (tg, torch):
        w = lib.zeros(2, requires_grad=True)
        w.data = lib.tensor([1.0, 5.0])
        assert w.tolist() == [1.0, 5.0] and w.requires_grad


def test_param_update_through_data_like_pytorch():
    w_t = torch.tensor([1.0, -2.0], requires_grad=True)
    w_g = tg.tensor([1.0, -2.0], requires_grad=True)
    for w in (w_t, w_g):
        (w * w).sum().backward()
        w.data -= 0.1 * w.grad.data
    np.testing.assert_allclose(
        w_g.numpy() if not w_g.requires_grad else w_g.detach().numpy(), w_t.detach().numpy()
    )


# ------------------------------------------------------------------ new_*
NEW = [
    ("new_zeros", lambda t: t.new_zeros(2, 3)),
    ("new_ones", lambda t: t.new_ones((2, 3))),
    ("new_full", lambda t: t.new_full((2, 2), 7.0)),
    ("new_tensor", lambda t: t.new_tensor([1, 2, 3])),
    ("new_zeros_dtype", lambda t: t.new_zeros(2, dtype=t.long().dtype)),
    ("new_empty", lambda t: t.new_empty(2, 3).fill_(0)),
]


@pytest.mark.parametrize("src_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, f", NEW)
def test_new_constructors_vs_torch(name, f, src_dtype):
    a = np.ones((2,), src_dtype)
    got, want = f(tg.tensor(a)), f(torch.tensor(a))
    assert tuple(got.shape) == tuple(want.shape) and str(got.dtype) == _dt(want)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


# ------------------------------------------------------------ creation keywords
CREATE = [
    ("zeros", lambda L, **k: L.zeros(2, 3, **k)),
    ("ones", lambda L, **k: L.ones((2, 3), **k)),
    ("full", lambda L, **k: L.full((2, 3), 1.5, **k)),
    ("empty", lambda L, **k: L.empty(2, 3, **k).zero_()),
    ("tensor", lambda L, **k: L.tensor([[1.0, 2.0]], **k)),
    ("arange", lambda L, **k: L.arange(0.0, 3.0, 0.5, **k)),
    ("linspace", lambda L, **k: L.linspace(0, 1, 5, **k)),
    ("eye", lambda L, **k: L.eye(3, 2, **k)),
    ("zeros_like", lambda L, **k: L.zeros_like(L.ones(2), **k)),
    ("ones_like", lambda L, **k: L.ones_like(L.ones(2), **k)),
    ("full_like", lambda L, **k: L.full_like(L.ones(2), 3.0, **k)),
    ("empty_like", lambda L, **k: L.empty_like(L.ones(2), **k).zero_()),
]


@pytest.mark.parametrize("name, f", CREATE)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_creation_keywords_vs_torch(name, f, dtype):
    kw = dict(device="cpu", requires_grad=True)
    got = f(tg, dtype=getattr(tg, dtype), **kw) if "empty" not in name else None
    want = f(torch, dtype=getattr(torch, dtype), **kw) if "empty" not in name else None
    if got is None:  # empty + zero_ in place would hit a leaf that requires grad
        got = f(tg, dtype=getattr(tg, dtype), device=tg.device("cpu"))
        want = f(torch, dtype=getattr(torch, dtype), device=torch.device("cpu"))
    assert got.requires_grad == want.requires_grad and str(got.dtype) == _dt(want)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())


RANDOM = [
    ("rand", lambda L, g: L.rand(3, 4, generator=g, dtype=L.float64)),
    ("randn", lambda L, g: L.randn((3, 4), generator=g, dtype=L.float64, requires_grad=True)),
    ("randint", lambda L, g: L.randint(0, 5, (3, 4), generator=g)),
    ("randperm", lambda L, g: L.randperm(7, generator=g)),
]


@pytest.mark.parametrize("name, f", RANDOM)
def test_random_generator_keyword(name, f):
    want = f(torch, torch.Generator().manual_seed(3))
    a = f(tg, tg.Generator().manual_seed(3))
    tg.manual_seed(0)
    state = tg.get_rng_state()
    b = f(tg, tg.Generator().manual_seed(3))
    assert tg.get_rng_state() == state, "a private generator must not advance the global one"
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    c = f(tg, tg.Generator().manual_seed(4))
    assert not np.array_equal(a.detach().numpy(), c.detach().numpy())
    assert tuple(a.shape) == tuple(want.shape) and str(a.dtype) == _dt(want)
    assert a.requires_grad == want.requires_grad


def test_generator_state_round_trip():
    g = tg.Generator().manual_seed(11)
    s = g.get_state()
    a = tg.randn(4, generator=g)
    g.set_state(s)
    np.testing.assert_array_equal(a.numpy(), tg.randn(4, generator=g).numpy())
    assert g.initial_seed() == 11


def test_from_numpy_shares_memory_and_dtype():
    for lib in (tg, torch):
        a = np.arange(4.0)
        t = lib.from_numpy(a)
        a[0] = 9.0
        assert t[0].item() == 9.0 and str(t.dtype).removeprefix("torch.") == "float64"
        t[1] = 7.0
        assert a[1] == 7.0
    with pytest.raises(TypeError, match="numpy.ndarray"):
        tg.from_numpy([1, 2])


# --------------------------------------------------------------------- devices
def test_device_objects_like_torch():
    for s in ("cpu", "cuda", "cuda:0"):
        assert str(tg.device(s)) == str(torch.device(s))
        assert repr(tg.device(s)) == repr(torch.device(s))
    assert tg.device("cuda", 0) == "cuda:0" and tg.device("cpu").type == "cpu"
    assert tg.ones(1).device == tg.device("cpu") and tg.ones(1).device.type == "cpu"
    with pytest.raises(RuntimeError, match="expected one of cpu, cuda"):
        tg.device("tpu")


def test_cuda_is_honest_without_a_gpu_backend():
    assert tg.cuda.is_available() is False and tg.cuda.device_count() == 0
    x = tg.ones(2)
    for call in (
        lambda: x.cuda(),
        lambda: x.to("cuda"),
        lambda: x.to("cuda:0"),
        lambda: x.to(tg.device("cuda")),
        lambda: tg.zeros(2, device="cuda"),
        lambda: tg.nn.Linear(2, 2).to("cuda"),
        lambda: tg.nn.Linear(2, 2).cuda(),
    ):
        with pytest.raises(RuntimeError, match=r"not available.*NumPy backend.*'cpu'"):
            call()


def test_to_device_and_dtype_like_torch():
    x = tg.ones(2)
    device = tg.device("cuda" if tg.cuda.is_available() else "cpu")
    assert x.to(device) is x and x.cpu() is x
    assert x.to("cpu", tg.float64).dtype == tg.float64
    assert x.to(device=device, dtype=tg.float64).dtype == tg.float64
    assert x.to(tg.zeros(1, dtype=tg.int64)).dtype == tg.int64
    m = tg.nn.Linear(2, 2).to(device)
    assert m.weight.dtype == tg.float32


# ---------------------------------------------------------------- inference
def test_inference_mode_records_nothing():
    w = tg.ones(2, requires_grad=True)
    with tg.inference_mode():
        y = w * 2
    assert not y.requires_grad and tg.autograd.grad_mode.is_grad_enabled()

    @tg.inference_mode()
    def f(v):
        return v * 3

    assert not f(w).requires_grad
    with tg.inference_mode(False):
        assert (w * 2).requires_grad


LIKE = [
    ("rand_like", lambda L, x, **k: L.rand_like(x, **k)),
    ("randn_like", lambda L, x, **k: L.randn_like(x, **k)),
    ("randint_like", lambda L, x, **k: L.randint_like(x, 0, 5, dtype=L.float64)),
]


@pytest.mark.parametrize("name, f", LIKE)
def test_random_like_keywords_vs_torch(name, f):
    kw = {} if name == "randint_like" else dict(dtype=None, device="cpu", requires_grad=True)
    got = f(tg, tg.zeros(2, 3, dtype=tg.float64), **kw)
    want = f(torch, torch.zeros(2, 3, dtype=torch.float64), **kw)
    assert tuple(got.shape) == tuple(want.shape) and str(got.dtype) == _dt(want)
    assert got.requires_grad == want.requires_grad
    a = got.detach().numpy()
    assert (a >= 0).all() if name != "randn_like" else np.isfinite(a).all()
