"""The add-an-op template of CONTRIBUTING.md and docs/engine.md is the library's real code.

The template is ``mse_loss``: its code blocks must be found in
``src/tapegrad/ops/loss.py`` as written, and the op they show must give
PyTorch's first and second derivatives, on the array path (an ordinary
backward) and on the Tensor path (``create_graph=True``).
"""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import numpy as np
import torch

import tapegrad as tg
from tapegrad.ops import loss as loss_module

ROOT = Path(__file__).resolve().parent.parent


def _python_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", text, re.S)]


def _lines(code: str) -> list[str]:
    return [ln.strip() for ln in code.splitlines() if ln.strip()]


def _in_order(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


def test_template_blocks_are_the_source_of_mse_loss():
    source = (ROOT / "src/tapegrad/ops/loss.py").read_text(encoding="utf-8")
    fn_source = _lines(inspect.getsource(loss_module.mse_loss))
    for doc in ("CONTRIBUTING.md", "docs/engine.md"):
        blocks = [b for b in _python_blocks(ROOT / doc) if "MSELoss" in b or "mse_loss" in b]
        assert blocks, f"{doc} shows no mse_loss code"
        for block in blocks:
            if block.startswith("class "):
                assert block in source, f"{doc}: the class block differs from ops/loss.py"
            else:
                # the public function is shown without its docstring
                assert _in_order(_lines(block), fn_source), f"{doc}: mse_loss block differs"


def test_template_op_first_and_second_derivatives_match_torch():
    rng = np.random.default_rng(0)
    x0, t0 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for reduction in ("mean", "sum", "none"):
        x, t = tg.tensor(x0, requires_grad=True), tg.tensor(t0, requires_grad=True)
        xt = torch.tensor(x0, requires_grad=True)
        tt = torch.tensor(t0, requires_grad=True)
        y = tg.mse_loss(x, t, reduction=reduction)
        yt = torch.nn.functional.mse_loss(xt, tt, reduction=reduction)
        np.testing.assert_allclose(y._array, yt.detach().numpy(), rtol=1e-12)
        # array path: an ordinary backward
        y.sum().backward()
        gx, gt = torch.autograd.grad(yt.sum(), [xt, tt], create_graph=True)
        np.testing.assert_allclose(x.grad._array, gx.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(t.grad._array, gt.detach().numpy(), rtol=1e-12)
        # Tensor path: the same formula recorded, then differentiated again
        x2, t2 = tg.tensor(x0, requires_grad=True), tg.tensor(t0, requires_grad=True)
        y2 = tg.mse_loss(x2, t2, reduction=reduction).sum()
        g2x, _ = tg.grad(y2, [x2, t2], create_graph=True)
        (hx,) = tg.grad((g2x * g2x).sum(), [t2])
        (hxt,) = torch.autograd.grad((gx * gx).sum(), [tt])
        np.testing.assert_allclose(hx._array, hxt.numpy(), rtol=1e-12)
