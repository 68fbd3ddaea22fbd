"""In-place ops under autograd, next to PyTorch's own reaction to the same program.

Each scenario is written once as ``f(lib)`` and run with ``lib`` = torch and
``lib`` = tapegrad: both must raise (with PyTorch's words), or both must give
the same values and gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import tapegrad as tg

RNG = np.random.default_rng(11)
A = RNG.standard_normal((3, 4)).astype(np.float32)
B = RNG.standard_normal((3, 4)).astype(np.float32)
SAVED_MSG = "modified by an inplace operation"


def _np(v: Any) -> Any:
    if isinstance(v, (torch.Tensor, tg.Tensor)):
        return v.detach().numpy()
    if isinstance(v, (tuple, list)):
        return [_np(u) for u in v]
    return v


def same(f: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """f(torch) and f(tapegrad) return the same arrays."""
    want, got = _np(f(torch)), _np(f(tg))
    for w, g in zip(
        want if isinstance(want, list) else [want], got if isinstance(got, list) else [got]
    ):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def both_raise(f: Any, match: str) -> None:
    with pytest.raises(RuntimeError, match=match):
        f(torch)
    with pytest.raises(RuntimeError, match=match):
        f(tg)


def leaf(lib: Any, a: np.ndarray = A) -> Any:
    return lib.tensor(a.copy(), requires_grad=True)


# ------------------------------------------------------- PyTorch raises
def test_saved_tensor_edited_raises():
    def f(lib):
        x = leaf(lib)
        y = x * 2
        z = y.sin()  # saves y
        y.add_(1)
        z.sum().backward()

    both_raise(f, SAVED_MSG)


def test_message_names_the_op_and_versions():
    x = leaf(tg)
    y = x * 2
    w = y.exp()
    s = w.sin()
    w.mul_(3)
    with pytest.raises(RuntimeError, match=r"\[mul_\].*is at version 1; expected version 0"):
        s.sum().backward()


def test_changes_elsewhere_pass_and_a_kept_input_changed_twice_raises():
    # An in-place change anywhere moves the global tally, so the nodes recorded
    # before it are checked in full: an unrelated change must not raise, and an
    # input changed before it was kept, then again, must (expected version 1).
    def unrelated(lib):
        x = leaf(lib)
        other = lib.tensor(B.copy())
        y = x * 2
        z = y * y  # keeps y, never changed
        other.mul_(2)
        z.sum().backward()
        return x.grad

    same(unrelated)

    def twice(lib):
        x = leaf(lib)
        y = x * 2
        y.add_(1)  # version 1 before y is kept
        z = y * x
        y.mul_(3)  # version 2
        z.sum().backward()

    both_raise(twice, SAVED_MSG)
    x = leaf(tg)
    y = x * 2
    y.add_(1)
    z = y * x
    y.mul_(3)
    with pytest.raises(RuntimeError, match=r"is at version 2; expected version 1"):
        z.sum().backward()


def test_view_of_saved_tensor_edited_raises():
    def f(lib):
        x = leaf(lib)
        y = x * 2
        z = y.sin()
        y[0].mul_(2)
        z.sum().backward()

    both_raise(f, SAVED_MSG)


def test_detach_of_saved_tensor_edited_raises():
    def f(lib):
        x = leaf(lib)
        y = x * 2
        z = y.sin()
        y.detach().zero_()
        z.sum().backward()

    both_raise(f, SAVED_MSG)


def test_saved_tensor_edited_under_no_grad_raises():
    def f(lib):
        x = leaf(lib)
        y = x * 2
        z = y * y
        with lib.no_grad():
            y.add_(1)
        z.sum().backward()

    both_raise(f, SAVED_MSG)


def test_data_edits_are_untracked():
    def f(lib):
        x = leaf(lib)
        y = x * 2
        z = y.sin()
        y.data.mul_(0.5)  # no version bump, no error: the gradient uses the new values
        z.sum().backward()
        return x.grad, y._version

    same(f)


def test_inplace_on_a_leaf_that_requires_grad_raises():
    def f(lib):
        leaf(lib).add_(1)

    def g(lib):
        x = leaf(lib)
        x[0] = 2.0

    def h(lib):
        x = leaf(lib)
        x[0].mul_(2)

    both_raise(f, "a leaf Variable that requires grad is being used in an in-place operation")
    both_raise(g, "a leaf Variable that requires grad is being used in an in-place operation")
    for fill in (lambda x: x.normal_(), lambda x: x.uniform_(-1, 1), lambda x: x.zero_()):
        both_raise(lambda lib, fill=fill: fill(leaf(lib)), "a leaf Variable that requires grad")
    both_raise(h, "a view of a leaf Variable that requires grad")

    def ok(lib):
        x = leaf(lib)
        with lib.no_grad():
            x.mul_(2)
            x[0] = 1.0
            x[1].uniform_(5.0, 5.0)
            x[2, :2].normal_(3.0, 0.0)
        (x * x).sum().backward()
        return x, x.grad, x._version

    same(ok)


def _gan(lib: Any, mistake: bool) -> Any:
    lib.manual_seed(0)
    d = lib.nn.Linear(4, 1)
    g = lib.nn.Linear(3, 4)
    with lib.no_grad():
        for m, s in ((d, 1), (g, 2)):
            m.weight.copy_(
                lib.tensor(
                    np.random.default_rng(s).standard_normal(m.weight.shape).astype(np.float32)
                )
            )
            m.bias.zero_()
    opt_d = lib.optim.SGD(d.parameters(), lr=0.1)
    z = lib.tensor(A[:, :3].copy())
    fake = g(z)
    loss_d = d(fake.detach()).mean()
    loss_g = -d(fake).mean()
    opt_d.zero_grad()
    loss_d.backward()
    if mistake:
        opt_d.step()  # changes D's weight, which loss_g saved
        loss_g.backward()
    else:
        loss_g.backward()
        opt_d.step()
    return g.weight.grad, d.weight


def test_gan_mistake_raises_and_the_right_order_works():
    both_raise(lambda lib: _gan(lib, True), SAVED_MSG)
    same(lambda lib: _gan(lib, False))


def test_result_dtype_must_fit():
    def f(lib):
        lib.tensor([1, 2]).add_(1.5)

    both_raise(f, "can't be cast to the desired output type")


def test_operand_overwritten_by_its_own_inplace_op_raises():
    def f(lib):
        y = leaf(lib) * 3
        y[1:, ::2].mul_(y[:2, 1::2])  # mul saved the second operand, which the write changes
        y.sum().backward()

    both_raise(f, SAVED_MSG)


def test_overlapping_view_raises():
    def g(lib):
        lib.zeros(3).expand(2, 3).add_(1)

    with pytest.raises(RuntimeError, match="more than one element"):
        g(torch)
    with pytest.raises(RuntimeError, match="read-only|more than one element"):
        g(tg)


# --------------------------------------- PyTorch allows: same gradients
def test_relu_inplace_after_conv():
    w = RNG.standard_normal((4, 2, 3, 3)).astype(np.float32)
    x0 = RNG.standard_normal((2, 2, 6, 6)).astype(np.float32)

    def f(lib):
        x = leaf(lib, x0)
        wt = leaf(lib, w)
        h = lib.nn.functional.conv2d(x, wt, padding=1)
        h.relu_()
        loss = (h * h).sum()
        loss.backward()
        return h, x.grad, wt.grad

    same(f, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("act", ["relu", "leaky", "elu", "hardtanh"])
def test_activation_modules_with_inplace(act):
    def f(lib):
        nn = lib.nn
        make = {
            "relu": lambda: nn.ReLU(inplace=True),
            "leaky": lambda: nn.LeakyReLU(0.2, inplace=True),
            "elu": lambda: nn.ELU(inplace=True),
            "hardtanh": lambda: nn.Hardtanh(-0.5, 0.5, inplace=True),
        }[act]
        lin1, lin2 = nn.Linear(4, 5), nn.Linear(5, 2)
        with lib.no_grad():
            for i, m in enumerate((lin1, lin2)):
                r = np.random.default_rng(i)
                m.weight.copy_(lib.tensor(r.standard_normal(m.weight.shape).astype(np.float32)))
                m.bias.copy_(lib.tensor(r.standard_normal(m.bias.shape).astype(np.float32)))
        model = nn.Sequential(lin1, make(), lin2, make())
        x = leaf(lib)
        out = model(x)
        (out * out).sum().backward()
        return out, x.grad, lin1.weight.grad, lin2.weight.grad

    same(f, rtol=1e-4, atol=1e-5)


def test_functional_inplace_flags():
    def f(lib):
        F = lib.nn.functional
        x = leaf(lib)
        y = x * 1.5
        outs = [F.relu(y.clone(), inplace=True), F.leaky_relu(y.clone(), 0.3, inplace=True)]
        outs.append(F.elu(y.clone(), inplace=True))
        total = sum((o * o).sum() for o in outs)
        total.backward()
        return outs + [x.grad]

    same(f)


def test_dropout_inplace_matches_out_of_place():
    x = tg.tensor(A) * 1.0
    tg.manual_seed(3)
    want = tg.nn.functional.dropout(x, 0.5)
    tg.manual_seed(3)
    y = x.clone()
    got = tg.nn.functional.dropout(y, 0.5, inplace=True)
    assert got is y
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    m = tg.nn.Dropout(0.5, inplace=True)
    z = x.clone()
    assert m(z) is z


@pytest.mark.parametrize(
    "edit",
    [
        "chain",
        "slice_mul",
        "transpose_add",
        "setitem",
        "setitem_adv",
        "masked_fill",
        "clamp",
        "copy",
        "fill",
        "zero",
        "div",
        "iadd",
        "sub_alpha",
        "view_of_view",
    ],
)
def test_inplace_gradients_first_and_second_order(edit):
    def f(lib):
        x, w = leaf(lib), leaf(lib, B)
        y = x * x + 1
        if edit == "chain":
            y.mul_(w).add_(1).relu_()
        elif edit == "slice_mul":
            y[1:, ::2].mul_(w[:2, :2])
        elif edit == "transpose_add":
            y.t()[1].add_(w[:, 1] * w[:, 2])
        elif edit == "setitem":
            y[1] = w[0] * w[2]
        elif edit == "setitem_adv":
            y[0, [1, 3]] = w[1, :2] ** 2
        elif edit == "masked_fill":
            y.masked_fill_(w > 0, 0.5)
        elif edit == "clamp":
            y.clamp_(max=1.5)
        elif edit == "copy":
            y[:, 1:3].copy_(w[:, :2] * 2)
        elif edit == "fill":
            y[2].fill_(3.0)
        elif edit == "zero":
            y[:, 0].zero_()
        elif edit == "div":
            y.div_(w * w + 1)
        elif edit == "iadd":
            y += w
        elif edit == "sub_alpha":
            y.sub_(w, alpha=0.5)
        elif edit == "view_of_view":
            y.view(2, 6)[1][::2].mul_(w[0, :3])
        loss = (y * y * y).sum()
        gx, gw = lib.autograd.grad(loss, [x, w], create_graph=True, allow_unused=True)
        gw = gw if gw is not None else x * 0
        second = lib.autograd.grad((gx * gx).sum() + gw.sum(), [x, w], allow_unused=True)
        return [y, gx, gw] + [s if s is not None else x * 0 for s in second]

    same(f, rtol=1e-4, atol=1e-4)


def test_setitem_on_a_constant_buffer_carries_gradient():
    def f(lib):
        w = leaf(lib)
        out = lib.zeros(5, 4)
        out[1:4] = w * 2
        out[0] = w[0].exp()
        (out * out).sum().backward()
        return out, w.grad, out.requires_grad

    same(f)


def test_versions_count_like_torch():
    def f(lib):
        x = lib.ones(3)
        v = x[1:]
        d = x.detach()
        x.add_(1)
        v.mul_(2)
        d[0] = 5.0
        data = x.data
        data.add_(1)
        return [x._version, v._version, d._version, data._version]

    assert f(torch) == f(tg)


@pytest.mark.parametrize("where", ["base", "sibling", "no_grad_then_use"])
def test_views_made_before_an_inplace_op_follow_their_base(where):
    def f(lib):
        x, w = leaf(lib), leaf(lib, B)
        y = x * 2
        v = y[0]
        t = y.t()
        if where == "base":
            y.mul_(w)
        elif where == "sibling":
            y[1:].add_(w[1:] ** 2)
            t[1].mul_(w[:, 2])
        else:
            with lib.no_grad():
                y.mul_(3)
            y.add_(w)
        loss = (v * v).sum() + (t * t * t).sum() + y.sum()
        loss.backward()
        return x.grad, w.grad

    same(f, rtol=1e-4, atol=1e-4)
