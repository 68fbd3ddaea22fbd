"""nn.Module machinery, Parameter and containers, checked against PyTorch's behaviour.

The models here are built only from layers' constructors (no forward through
ops), so these tests exercise registration, traversal, state dicts, dtype
conversion and repr independently of the op modules.
"""

from __future__ import annotations

import copy
import pickle
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

import tapegrad as tg
import tapegrad.nn as nn

# ----------------------------------------------------------------- helpers


def small_cnn(lib):
    """The same small CNN in tapegrad.nn or torch.nn."""
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, padding=1),
        lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Conv2d(4, 8, 3, stride=2, bias=False),
        lib.LeakyReLU(0.2),
        lib.Dropout(0.25),
        lib.Flatten(),
        lib.Linear(8 * 3 * 3, 16),
        lib.Tanh(),
        lib.Linear(16, 10),
    )


def nested(lib):
    """A model with a custom submodule, a ModuleList, a ModuleDict and a buffer."""

    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.Linear(3, 4)
            self.acts = lib.ModuleList([lib.ReLU(), lib.Sigmoid()])
            self.heads = lib.ModuleDict({"a": lib.Linear(4, 2), "b": lib.Linear(4, 1, bias=False)})
            if lib is nn:
                self.register_buffer("scale", tg.ones(4))
                self.register_buffer("tmp", tg.zeros(2), persistent=False)
            else:
                self.register_buffer("scale", torch.ones(4))
                self.register_buffer("tmp", torch.zeros(2), persistent=False)

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.out = lib.Sequential(lib.Linear(4, 4), lib.ELU())

    return Net()


def to_numpy_state(sd):
    return OrderedDict((k, v.detach().numpy()) for k, v in sd.items())


# ----------------------------------------------------------------- Parameter


def test_parameter_is_leaf_that_requires_grad():
    p = nn.Parameter(tg.randn(3))
    assert isinstance(p, nn.Parameter) and isinstance(p, tg.Tensor)
    assert p.requires_grad and p.is_leaf
    assert not nn.Parameter(tg.randn(3), requires_grad=False).requires_grad
    q = p * 2
    assert type(q) is tg.Tensor and not isinstance(q, nn.Parameter)


def test_parameter_accumulates_gradient_through_engine():
    a = np.array([1.0, -2.0, 3.0])
    p = nn.Parameter(tg.tensor(a))
    for _ in range(2):
        (p * p).sum().backward()
    np.testing.assert_allclose(p.grad._array, 2 * 2 * a)


def test_parameter_shares_memory_and_repr():
    t = tg.zeros(2)
    p = nn.Parameter(t)
    p._array[0] = 5.0
    assert t._array[0] == 5.0
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert nn.Parameter().shape == (0,)


def test_parameter_deepcopy_and_pickle_stay_parameters():
    p = nn.Parameter(tg.randn(2, 2))
    p.grad = tg.ones(2, 2)
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(q) is nn.Parameter and q.requires_grad
        np.testing.assert_array_equal(q._array, p._array)
        assert q._array is not p._array
    assert copy.deepcopy(p).grad is not None


# ----------------------------------------------------------------- registration


def test_registration_and_names_match_torch():
    ours, theirs = nested(nn), nested(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [type(m).__name__ for m in ours.modules()] == [
        type(m).__name__ for m in theirs.modules()
    ]
    assert len(list(ours.block.parameters(recurse=False))) == 0
    assert [n for n, _ in ours.block.fc.named_parameters(prefix="x")] == ["x.weight", "x.bias"]


def test_state_dict_keys_equal_torch_for_cnn():
    assert list(small_cnn(nn).state_dict()) == list(small_cnn(torch.nn).state_dict())
    ours, theirs = small_cnn(nn).state_dict(), small_cnn(torch.nn).state_dict()
    assert [tuple(v.shape) for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]


def test_parameters_order_is_registration_order():
    m = small_cnn(nn)
    expected = [m[0].weight, m[0].bias, m[3].weight, m[7].weight, m[7].bias]
    expected += [m[9].weight, m[9].bias]
    assert [id(p) for p in m.parameters()] == [id(p) for p in expected]


def test_shared_parameter_and_module_listed_once():
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2
    assert len(list(m.modules())) == 3
    tm = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU())
    tm.append(tm[0])
    assert list(m.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]


def test_setattr_rules():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = tg.zeros(3, 2)
    m.bias = None
    assert m.bias is None and "bias" not in m.state_dict()
    m.extra = nn.Parameter(tg.zeros(1))
    assert "extra" in dict(m.named_parameters())
    del m.extra
    assert "extra" not in dict(m.named_parameters())
    m.sub = nn.ReLU()
    assert "sub" in dict(m.named_children())
    m.sub = nn.Parameter(tg.zeros(1))  # replaces the module by a parameter
    assert "sub" not in dict(m.named_children()) and "sub" in dict(m.named_parameters())
    m.plain = tg.zeros(2)  # a plain Tensor attribute is not registered
    assert "plain" not in m.state_dict()
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = m.nope

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tg.zeros(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\)"):
        Early()


def test_register_buffer_and_persistence():
    m = nn.Module()
    m.register_buffer("running", tg.zeros(3))
    m.register_buffer("scratch", tg.ones(2), persistent=False)
    m.register_buffer("absent", None)
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]
    assert list(m.state_dict()) == ["running"]
    m.running = tg.ones(3)
    np.testing.assert_array_equal(m.running.data, 1)
    with pytest.raises(TypeError, match="buffer 'running'"):
        m.running = 3
    with pytest.raises(KeyError, match="empty or contain"):
        m.register_buffer("a.b", tg.zeros(1))
    with pytest.raises(TypeError, match="parameter 'p'"):
        m.register_parameter("p", tg.zeros(1))


def test_get_submodule_and_parameter():
    m = nested(nn)
    assert m.get_submodule("block.heads.a") is m.block.heads["a"]
    assert m.get_parameter("out.0.bias") is m.out[0].bias
    assert m.get_buffer("block.scale") is m.block.scale
    with pytest.raises(AttributeError, match="nope"):
        m.get_submodule("block.nope")


@pytest.mark.parametrize("lib", [torch.nn, nn], ids=["torch", "tapegrad"])
def test_get_submodule_of_a_none_entry_raises(lib):
    # A slot registered as None is no submodule: PyTorch raises, so does tapegrad.
    m = lib.Module()
    m.register_module("x", None)
    with pytest.raises(AttributeError, match="x"):
        m.get_submodule("x")
    with pytest.raises(AttributeError, match="x"):
        m.get_parameter("x.weight")


# ----------------------------------------------------------------- modes, grads, apply


def test_train_eval_recursive():
    m = small_cnn(nn)
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m.train(False)
    assert not m[5].training


def test_zero_grad_to_none_and_to_zero():
    m = nn.Linear(3, 2)
    for p in m.parameters():
        p.grad = tg.ones(*p.shape)
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and np.all(p.grad._array == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_requires_grad_freezes():
    m = small_cnn(nn)
    assert m.requires_grad_(False) is m
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_apply_order_matches_torch():
    seen_ours, seen_torch = [], []
    nested(nn).apply(lambda m: seen_ours.append(type(m).__name__))
    nested(torch.nn).apply(lambda m: seen_torch.append(type(m).__name__))
    assert seen_ours == seen_torch


def test_apply_for_custom_init():
    m = small_cnn(nn)

    def init_fn(mod):
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)

    m.apply(init_fn)
    assert np.all(m[7].weight.data == 0.5) and np.all(m[9].weight.data == 0.5)
    assert not np.all(m[0].weight.data == 0.5)


def test_dtype_conversion_keeps_objects():
    m = nested(nn)
    m.block.register_buffer("count", tg.tensor(3))
    w = m.block.fc.weight
    w.grad = tg.ones(4, 3)
    assert m.double() is m
    assert m.block.fc.weight is w and w.dtype == np.float64 and w.grad.dtype == np.float64
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m.block.scale.dtype == np.float64
    assert m.block.count.dtype == np.int64  # integer buffers keep their dtype
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())
    m.to(tg.float64)
    assert all(p.dtype == np.float64 for p in m.parameters())
    m.to("cpu", dtype=tg.float32)
    assert all(p.dtype == np.float32 for p in m.parameters())
    with pytest.raises(TypeError, match="floating"):
        m.to(tg.int64)


def test_linear_dtype_argument():
    assert nn.Linear(2, 3, dtype=tg.float64).weight.dtype == np.float64
    assert nn.Conv2d(2, 3, 3, dtype=tg.float64).bias.dtype == np.float64


# ----------------------------------------------------------------- state dicts


def test_state_dict_values_are_detached_and_share_memory():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    assert all(type(v) is tg.Tensor and not v.requires_grad for v in sd.values())
    sd["weight"]._array[0, 0] = 42.0
    assert m.weight.data[0, 0] == 42.0
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_load_state_dict_from_torch_and_back():
    tm = small_cnn(torch.nn)
    m = small_cnn(nn)
    res = m.load_state_dict(to_numpy_state(tm.state_dict()))
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (k, a), (k2, b) in zip(m.state_dict().items(), tm.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a.data, b.numpy())
    # tapegrad -> torch
    m2 = small_cnn(nn)
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in m2.state_dict().items()})
    for a, b in zip(m2.state_dict().values(), tm.state_dict().values()):
        np.testing.assert_array_equal(a.data, b.numpy())


def test_load_state_dict_accepts_tensors_and_torch_tensors_and_casts():
    src, dst = nn.Linear(3, 2), nn.Linear(3, 2, dtype=tg.float64)
    dst.load_state_dict(src.state_dict())
    np.testing.assert_allclose(dst.weight.data, src.weight.data)
    assert dst.weight.dtype == np.float64
    t = torch.nn.Linear(3, 2)
    dst.load_state_dict(t.state_dict())
    np.testing.assert_allclose(dst.bias.data, t.bias.detach().numpy(), rtol=1e-7)


def test_load_state_dict_is_a_copy_not_an_alias():
    a = np.ones((2, 3), dtype=np.float32)
    m = nn.Linear(3, 2)
    w = m.weight
    m.load_state_dict({"weight": a, "bias": np.zeros(2, np.float32)})
    a[0, 0] = 7
    assert m.weight is w and m.weight.data[0, 0] == 1


def _torch_error(model, sd, strict=True):
    with pytest.raises(RuntimeError) as e:
        model.load_state_dict(sd, strict=strict)
    return str(e.value)


def test_load_state_dict_missing_and_unexpected_match_torch_message():
    tm, m = small_cnn(torch.nn), small_cnn(nn)
    sd_t = tm.state_dict()
    del sd_t["7.bias"]
    del sd_t["0.weight"]
    sd_t["7.extra"] = torch.zeros(1)
    sd_t["foo"] = torch.zeros(1)
    sd_ours = to_numpy_state(sd_t)
    msg_torch = _torch_error(tm, sd_t)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd_ours)
    assert str(e.value) == msg_torch
    assert '"7.bias"' in str(e.value) and '"foo"' in str(e.value)
    res = m.load_state_dict(sd_ours, strict=False)
    res_t = tm.load_state_dict(sd_t, strict=False)
    assert res.missing_keys == res_t.missing_keys
    assert sorted(res.unexpected_keys) == sorted(res_t.unexpected_keys)


def test_load_state_dict_size_mismatch_names_key_even_if_not_strict():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    sd = to_numpy_state(m.state_dict())
    sd["1.weight"] = np.zeros((2, 5), np.float32)
    pattern = re.escape(
        "size mismatch for 1.weight: copying a param with shape (2, 5) from checkpoint, "
        "the shape in current model is (2, 4)."
    )
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=pattern):
            m.load_state_dict(sd, strict=strict)


def test_load_state_dict_buffers_and_non_persistent():
    src, dst = nested(nn), nested(nn)
    src.block.scale.data[:] = 3.0
    src.block.tmp.data[:] = 9.0
    dst.load_state_dict(src.state_dict())
    np.testing.assert_array_equal(dst.block.scale.data, 3.0)
    np.testing.assert_array_equal(dst.block.tmp.data, 0.0)
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "block.tmp"'):
        dst.load_state_dict({**src.state_dict(), "block.tmp": tg.zeros(2)})


def test_module_deepcopy_and_pickle():
    m = small_cnn(nn)
    for c in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert list(c.state_dict()) == list(m.state_dict())
        assert all(type(p) is nn.Parameter for p in c.parameters())
        for a, b in zip(c.parameters(), m.parameters()):
            assert a is not b
            np.testing.assert_array_equal(a.data, b._array)


# ----------------------------------------------------------------- repr


def test_repr_equals_torch():
    def build(lib):
        return lib.Sequential(
            lib.Linear(784, 128),
            lib.ReLU(),
            lib.Conv2d(3, 16, kernel_size=3, stride=2, padding=1, bias=False),
            lib.Conv2d(3, 16, 5, padding="same", dilation=2, groups=1),
            lib.ConvTranspose2d(16, 8, 4, 2, 1, output_padding=1),
            lib.Dropout(0.3),
            lib.Sequential(lib.Linear(2, 3, bias=False), lib.LeakyReLU(0.2)),
        )

    assert repr(build(nn)) == repr(build(torch.nn))
    assert str(small_cnn(nn)) == str(small_cnn(torch.nn))
    assert repr(nested(nn)) == repr(nested(torch.nn))


def test_modulelist_repr_compresses_repeats_like_torch():
    def build(lib):
        return lib.ModuleList([lib.Linear(3, 4), lib.Linear(3, 4), lib.Linear(3, 4), lib.ReLU()])

    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


def test_extra_repr_multiline():
    class M(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    class TM(torch.nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    m, tm = M(), TM()
    m.lin = nn.Linear(1, 1)
    tm.lin = torch.nn.Linear(1, 1)
    assert repr(m).replace("M(", "X(") == repr(tm).replace("TM(", "X(")


# ----------------------------------------------------------------- hooks and call


class AddOne(nn.Module):
    def forward(self, x):
        return x + 1


def test_call_runs_forward_and_hooks():
    m = AddOne()
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 10,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.item()) or out * 2)
    assert m(tg.tensor(1.0)).item() == 22.0
    assert calls == [11.0]
    h1.remove()
    h2.remove()
    assert m(tg.tensor(1.0)).item() == 2.0


def test_forward_missing_raises():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# ----------------------------------------------------------------- containers


def test_sequential_forward_index_slice_len():
    s = nn.Sequential(AddOne(), AddOne(), AddOne())
    assert s(tg.tensor(0.0)).item() == 3.0
    assert len(s) == 3 and s[-1] is s[2]
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is s[1]
    assert [k for k, _ in sub.named_children()] == ["1", "2"]  # torch keeps the keys
    t = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.ReLU())
    assert [k for k, _ in t[1:].named_children()] == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        s[3]


def test_sequential_mutation_keys_match_torch():
    def build(lib):
        s = lib.Sequential(lib.Linear(1, 2), lib.Linear(2, 3))
        s.append(lib.Linear(3, 4))
        s.insert(1, lib.ReLU())
        s.extend([lib.Linear(4, 5)])
        del s[0]
        s[0] = lib.Linear(2, 2)
        return s

    assert list(build(nn).state_dict()) == list(build(torch.nn).state_dict())
    assert repr(build(nn)) == repr(build(torch.nn))


def test_sequential_from_ordered_dict():
    def build(lib):
        return lib.Sequential(OrderedDict([("fc", lib.Linear(2, 3)), ("act", lib.ReLU())]))

    assert list(build(nn).state_dict()) == ["fc.weight", "fc.bias"]
    assert repr(build(nn)) == repr(build(torch.nn))
    assert isinstance(build(nn).act, nn.ReLU)


def test_modulelist_operations_match_torch():
    def build(lib):
        ml = lib.ModuleList([lib.Linear(1, 1), lib.Linear(1, 2)])
        ml.append(lib.Linear(1, 3))
        ml.extend([lib.Linear(1, 4)])
        ml.insert(0, lib.Linear(1, 5))
        del ml[1]
        ml += [lib.Linear(1, 6)]
        ml[0] = lib.Linear(1, 7)
        return ml

    ours, theirs = build(nn), build(torch.nn)
    assert [m.out_features for m in ours] == [m.out_features for m in theirs]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [m.out_features for m in ours[1:3]] == [m.out_features for m in theirs[1:3]]
    assert len(ours) == len(theirs)


def test_moduledict_operations():
    d = nn.ModuleDict({"a": nn.Linear(1, 1)})
    d["b"] = nn.ReLU()
    d.update([("c", nn.Tanh())])
    assert list(d) == ["a", "b", "c"] and "b" in d and len(d) == 3
    assert isinstance(d.pop("b"), nn.ReLU) and list(d.keys()) == ["a", "c"]
    assert [type(v).__name__ for v in d.values()] == ["Linear", "Tanh"]
    assert list(d.state_dict()) == ["a.weight", "a.bias"]


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(tg.zeros(2)), tg.ones(3)])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
    assert list(pl.state_dict()) == ["0", "1"]
    pd = nn.ParameterDict({"x": tg.zeros(1)})
    pd["y"] = nn.Parameter(tg.ones(1))
    assert list(pd.state_dict()) == ["x", "y"] and "y" in pd
    tpl = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2)), torch.ones(3)])
    assert list(tpl.state_dict()) == list(pl.state_dict())
