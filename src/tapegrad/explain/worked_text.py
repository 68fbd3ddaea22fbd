"""The backpropagation worked example as a document, in English or Chinese.

:func:`backprop_document` returns blocks (see :func:`tapegrad.explain.format.render_blocks`)
holding every forward value, the cost, every gradient and the SGD update, for
the sigmoid output and then the linear output, followed by the tutorial's wrong
numbers next to the right ones. Equation lines have one form, so a reader (or a
test) can recompute each of them::

    name = symbolic expression = numeric expression = value

Forward values and the cost are printed to 4 decimals (as the tutorial does);
gradients and updated parameters to 6, since one SGD step changes a weight in
its 4th decimal. Only the prose is translated; equations are the same in both
languages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import worked as W
from .format import Block

STEPS = (0, 1, 10, 100, 1000)

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Backpropagation, worked by hand (the backpropagation tutorial's example)",
        "setup": (
            "A network with 2 inputs, sigmoid units and one output; input x = [1, 2], "
            "target y = 3, cost C = 1/2 (y - y_hat)^2, learning rate lr = 0.01. Every number "
            "below is computed in float64 by the chain rule and printed rounded: forward values "
            "and the cost to 4 decimals, gradients and updated parameters to 6."
        ),
        "network": "The network (the tutorial's weights and biases wherever they fit one network):",
        "notes": "Where the tutorial's list does not fit one network, and what was chosen:",
        "sigmoid": "1. Sigmoid output, as in the tutorial: y_hat = sigmoid(z2)",
        "linear": "2. Linear output, which can reach the target: y_hat = z2",
        "forward": "Forward pass:",
        "cost": "Cost:",
        "backward": (
            "Backward pass (chain rule, from the cost back to every parameter; delta = dC/dz):"
        ),
        "update": "SGD update, theta <- theta - lr * dC/dtheta with lr = 0.01:",
        "check": (
            "Check: tapegrad.explain.trace on the same network gives the same gradients: "
            "largest difference from tapegrad's autograd {ag:.1e}, from central finite "
            "differences in float64 {fd:.1e} ({verdict})."
        ),
        "ok": "all checks passed",
        "bad": "A CHECK FAILED",
        "training": "Training with plain SGD (lr = 0.01) from the same start:",
        "after_n": "C after n steps",
        "why_title": "3. Why a sigmoid output never reaches the target 3",
        "why": (
            "sigmoid(z) = 1 / (1 + e^-z) lies strictly between 0 and 1, so y_hat < 1 and "
            "C = 1/2 (3 - y_hat)^2 > 1/2 (3 - 1)^2 = 2 for every choice of weights. Gradient "
            "descent pushes z2 up, y_hat creeps toward 1, and the factor y_hat (1 - y_hat) in "
            "dC/dz2 goes to 0, so learning slows down as well: after {n} steps y_hat = {yhat:.4f} "
            "and C = {c:.4f}, still above 2. With a linear output the same network reaches the "
            "target: C < 0.001 after {k} steps and C = {c_lin:.1e} after {n}. For a regression "
            "target outside (0, 1), use a linear output unit (or rescale the target into (0, 1))."
        ),
        "errata_title": "4. The tutorial's numbers, corrected",
        "errata_intro": (
            "Each number the tutorial's example prints, next to the right value in the network "
            "above (sigmoid output, first step). 'own arithmetic' is what the tutorial's own "
            "formula gives on its own (already wrong) inputs: the tutorial's arithmetic is wrong "
            "at many steps even by its own rules. Note that every correct gradient is negative "
            "(y_hat < y), so every weight must go up; the tutorial lowers them all."
        ),
        "quantity": "quantity",
        "tutorial": "tutorial",
        "correct": "correct",
        "own": "own arithmetic",
        "why_col": "why",
        "none": "(no such unit)",
    },
    "zh": {
        "title": "手算反向传播（反向传播教程中的例子）",
        "setup": (
            "一个有 2 个输入、使用 Sigmoid 单元、只有一个输出的网络；输入 x = [1, 2]，目标 y = 3，"
            "成本函数 C = 1/2 (y - y_hat)^2，学习率 lr = 0.01。下面每个数都按链式法则用 float64 "
            "计算，打印时四舍五入：前向值和成本保留 4 位小数，梯度和更新后的参数保留 6 位小数。"
        ),
        "network": "网络结构（凡是能构成同一个网络的地方，都沿用教程给出的权重和偏置）：",
        "notes": "教程的参数列表与同一个网络不相符之处，以及这里的取舍：",
        "sigmoid": "1. Sigmoid 输出（与教程相同）：y_hat = sigmoid(z2)",
        "linear": "2. 线性输出（可以达到目标值）：y_hat = z2",
        "forward": "前向传播：",
        "cost": "成本：",
        "backward": "反向传播（链式法则，从成本一直回到每个参数；delta = dC/dz）：",
        "update": "SGD 参数更新，theta <- theta - lr * dC/dtheta，其中 lr = 0.01：",
        "check": (
            "校验：对同一个网络运行 tapegrad.explain.trace 得到相同的梯度：与 tapegrad 自动求导"
            "的最大差为 {ag:.1e}，与 float64 中心差分的最大差为 {fd:.1e}（{verdict}）。"
        ),
        "ok": "全部通过",
        "bad": "有校验未通过",
        "training": "从同一起点用普通 SGD（lr = 0.01）训练：",
        "after_n": "n 步后的 C",
        "why_title": "3. 为什么 Sigmoid 输出永远达不到目标值 3",
        "why": (
            "sigmoid(z) = 1 / (1 + e^-z) 严格介于 0 和 1 之间，所以 y_hat < 1，无论权重取什么值，"
            "C = 1/2 (3 - y_hat)^2 > 1/2 (3 - 1)^2 = 2。梯度下降不断推高 z2，y_hat 逐渐逼近 1，"
            "而 dC/dz2 中的因子 y_hat (1 - y_hat) 趋于 0，学习也随之变慢：{n} 步之后 "
            "y_hat = {yhat:.4f}，C = {c:.4f}，仍然大于 2。换成线性输出，同一个网络就能达到目标："
            "{k} 步后 C < 0.001，{n} 步后 C = {c_lin:.1e}。回归目标不在 (0, 1) 之内时，应使用线性"
            "输出单元（或把目标缩放到 (0, 1) 之内）。"
        ),
        "errata_title": "4. 教程中的数字及其更正",
        "errata_intro": (
            "教程例子打印的每一个数，旁边是上面这个网络（Sigmoid 输出，第一步）中的正确值。"
            "“按其自身算式”是教程自己的公式作用在它自己（已经错误的）输入上得到的结果："
            "即使按教程自己的规则，很多步的算术也是错的。注意：正确的梯度全都是负数"
            "（y_hat < y），所以每个权重都应当增大；教程却把它们全部减小了。"
        ),
        "quantity": "量",
        "tutorial": "教程",
        "correct": "正确值",
        "own": "按其自身算式",
        "why_col": "原因",
        "none": "（不存在的单元）",
    },
}

NOTES_ZH = (
    "第 0 层：w0 = [0.1, 0.2]、b0 = [0.1, 0.2] 照用；它的两个单元各只读一个输入"
    "（z0_1 = w0_1 x_1 + b0_1），与教程的公式一致",
    "第 1 层需要 6 个权重（3 个单元 x 2 个输入），教程只列了 3 个（0.3、0.4、0.5）；"
    "它的公式对单元 1 用 [0.3, 0.4]，对单元 2 用 [0.4, 0.5]，对单元 3 用 [0.5, 0.5]"
    "（最后那个 0.5 是教程从未定义的权重）：这里取 W1 = [[0.3, 0.4], [0.4, 0.5], [0.5, 0.5]]；"
    "b1 = [0.3, 0.4, 0.5] 照用",
    "第 2 层：W2 = [0.6, 0.7, 0.8]、b2 = 0.6 照用；教程还多算了两个输出单元，用到列表里没有的"
    "偏置 0.7 和 0.8，而 y_hat 从未用到它们（y 只有一个数）：舍去",
)

REASONS: dict[str, dict[str, str]] = {
    "en": {
        "sigmoid": "arithmetic: 1 / (1 + e^-z) evaluated wrongly",
        "carried": "wrong inputs carried from the lines above",
        "no_unit": "a unit the network does not have (y is one number; y_hat = a2_1)",
        "dz2": "formula: dC/dz2 = (y_hat - y) y_hat (1 - y_hat); the tutorial's "
        "(y - y_hat)(1 - y_hat) has the wrong sign and drops y_hat",
        "dz1": "formula: dC/dz1_i = W2_i dC/dz2 a1_i (1 - a1_i); the tutorial drops W2_i and "
        "a1_i and pairs each unit with an output unit that does not exist",
        "dz0": "formula: dC/dz0_j = (sum_i W1_ij dC/dz1_i) a0_j (1 - a0_j); the tutorial keeps "
        "one term and drops a0_j",
        "update": "dC/dtheta is negative, so theta must rise; the tutorial subtracts dC/dz "
        "(for a weight: leaving out the input it multiplies) with the wrong sign",
        "update_w1": "dC/dW1_ij = dC/dz1_i a0_j; the tutorial's sign is wrong and it pairs "
        "units with the wrong a (even a0_3, which does not exist)",
        "update_w0": "dC/dw0_j = dC/dz0_j x_j; the tutorial's sign is wrong and it multiplies "
        "by a0_j instead of the input x_j",
    },
    "zh": {
        "sigmoid": "算术错误：1 / (1 + e^-z) 算错了",
        "carried": "沿用了上面几行的错误输入",
        "no_unit": "网络中不存在的单元（y 只有一个数；y_hat = a2_1）",
        "dz2": "公式错误：dC/dz2 = (y_hat - y) y_hat (1 - y_hat)；教程的 (y - y_hat)(1 - y_hat) "
        "符号相反，且漏掉了 y_hat",
        "dz1": "公式错误：dC/dz1_i = W2_i dC/dz2 a1_i (1 - a1_i)；教程漏掉了 W2_i 和 a1_i，"
        "并把每个单元配给了一个不存在的输出单元",
        "dz0": "公式错误：dC/dz0_j = (sum_i W1_ij dC/dz1_i) a0_j (1 - a0_j)；教程只保留了一项，"
        "并漏掉了 a0_j",
        "update": "dC/dtheta 为负，所以 theta 应当增大；教程减去的是 dC/dz"
        "（对权重而言漏掉了它所乘的输入），而且符号相反",
        "update_w1": "dC/dW1_ij = dC/dz1_i a0_j；教程符号相反，且配错了 a（甚至用了不存在的 a0_3）",
        "update_w0": "dC/dw0_j = dC/dz0_j x_j；教程符号相反，且乘的是 a0_j 而不是输入 x_j",
    },
}


def _n4(v: float) -> str:
    return f"{v:.4f}"


def _n6(v: float) -> str:
    return f"{v:.6f}"


def _g(v: float) -> str:
    """A number inside an expression: parenthesised when negative."""
    s = _n6(v)
    return f"({s})" if v < 0 else s


def _p(v: float) -> str:
    """A parameter value as given (at most 4 decimals, trailing zeros dropped)."""
    return f"{v:.4f}".rstrip("0").rstrip(".")


def equations(output: str) -> dict[str, list[str]]:
    """The forward, cost, backward and update equation lines for one output unit."""
    p = W.initial_params()
    h = W.backward(p, output)
    new = W.sgd_update(p, h["grads"])
    x, a0, a1 = W.X, h["a0"], h["a1"]
    fwd = []
    for j in range(2):
        fwd.append(
            f"z0_{j + 1} = w0_{j + 1}*x_{j + 1} + b0_{j + 1} = {_p(p['w0'][j])}*{x[j]:.0f} + "
            f"{_p(p['b0'][j])} = {_n4(h['z0'][j])}"
        )
    for j in range(2):
        fwd.append(f"a0_{j + 1} = sigmoid(z0_{j + 1}) = sigmoid({_n4(h['z0'][j])}) = {_n4(a0[j])}")
    for i in range(3):
        w1, b1 = p["W1"][i], p["b1"][i]
        fwd.append(
            f"z1_{i + 1} = W1_{i + 1}1*a0_1 + W1_{i + 1}2*a0_2 + b1_{i + 1} = "
            f"{_p(w1[0])}*{_n4(a0[0])} + {_p(w1[1])}*{_n4(a0[1])} + {_p(b1)} = {_n4(h['z1'][i])}"
        )
    for i in range(3):
        fwd.append(f"a1_{i + 1} = sigmoid(z1_{i + 1}) = sigmoid({_n4(h['z1'][i])}) = {_n4(a1[i])}")
    terms = " + ".join(f"{_p(p['W2'][0, i])}*{_n4(a1[i])}" for i in range(3))
    fwd.append(
        f"z2 = W2_1*a1_1 + W2_2*a1_2 + W2_3*a1_3 + b2 = {terms} + {_p(p['b2'][0])} = "
        f"{_n4(h['z2'][0])}"
    )
    yh = h["y_hat"][0]
    if output == "sigmoid":
        fwd.append(f"y_hat = sigmoid(z2) = sigmoid({_n4(h['z2'][0])}) = {_n4(yh)}")
    else:
        fwd.append(f"y_hat = z2 = {_n4(yh)}")
    cost = [f"C = 1/2*(y - y_hat)**2 = 0.5*(3 - {_n4(yh)})**2 = {_n4(h['C'])}"]
    d2 = h["delta2"][0]
    bwd = [f"dC/dy_hat = y_hat - y = {_n4(yh)} - 3 = {_n6(h['dC_dyhat'][0])}"]
    if output == "sigmoid":
        bwd.append(
            f"delta2 = dC/dy_hat*y_hat*(1 - y_hat) = {_g(h['dC_dyhat'][0])}*{_n4(yh)}*"
            f"(1 - {_n4(yh)}) = {_n6(d2)}"
        )
    else:
        bwd.append(f"delta2 = dC/dy_hat*1 = {_g(h['dC_dyhat'][0])}*1 = {_n6(d2)}")
    for i in range(3):
        bwd.append(
            f"dC/dW2_{i + 1} = delta2*a1_{i + 1} = {_g(d2)}*{_n4(a1[i])} = "
            f"{_n6(h['grads']['W2'][0, i])}"
        )
    bwd.append(f"dC/db2 = delta2 = {_n6(d2)}")
    d1 = h["delta1"]
    for i in range(3):
        bwd.append(
            f"delta1_{i + 1} = W2_{i + 1}*delta2*a1_{i + 1}*(1 - a1_{i + 1}) = "
            f"{_p(p['W2'][0, i])}*{_g(d2)}*{_n4(a1[i])}*(1 - {_n4(a1[i])}) = {_n6(d1[i])}"
        )
    for i in range(3):
        for j in range(2):
            bwd.append(
                f"dC/dW1_{i + 1}{j + 1} = delta1_{i + 1}*a0_{j + 1} = {_g(d1[i])}*{_n4(a0[j])} = "
                f"{_n6(h['grads']['W1'][i, j])}"
            )
    for i in range(3):
        bwd.append(f"dC/db1_{i + 1} = delta1_{i + 1} = {_n6(d1[i])}")
    d0 = h["delta0"]
    for j in range(2):
        sym = " + ".join(f"W1_{i + 1}{j + 1}*delta1_{i + 1}" for i in range(3))
        num = " + ".join(f"{_p(p['W1'][i, j])}*{_g(d1[i])}" for i in range(3))
        bwd.append(
            f"delta0_{j + 1} = ({sym})*a0_{j + 1}*(1 - a0_{j + 1}) = ({num})*{_n4(a0[j])}*"
            f"(1 - {_n4(a0[j])}) = {_n6(d0[j])}"
        )
    for j in range(2):
        bwd.append(
            f"dC/dw0_{j + 1} = delta0_{j + 1}*x_{j + 1} = {_g(d0[j])}*{x[j]:.0f} = "
            f"{_n6(h['grads']['w0'][j])}"
        )
    for j in range(2):
        bwd.append(f"dC/db0_{j + 1} = delta0_{j + 1} = {_n6(d0[j])}")
    upd = []
    for k in ("W2", "b2", "W1", "b1", "w0", "b0"):
        old, g, nw = p[k].reshape(-1), h["grads"][k].reshape(-1), new[k].reshape(-1)
        for n in range(old.size):
            name = _param_name(k, n, p[k].shape)
            upd.append(
                f"new {name} = {name} - lr*dC/d{name} = {_p(old[n])} - 0.01*{_g(g[n])} = "
                f"{_n6(nw[n])}"
            )
    return {"forward": fwd, "cost": cost, "backward": bwd, "update": upd}


def _param_name(k: str, n: int, shape: tuple[int, ...]) -> str:
    """``W1_12`` style names (1-based row and column) for element ``n`` of parameter ``k``."""
    if k == "W2":
        return f"W2_{n + 1}"
    if k == "b2":
        return "b2"
    if len(shape) == 2:
        i, j = divmod(n, shape[1])
        return f"{k}_{i + 1}{j + 1}"
    return f"{k}_{n + 1}"


def _network_lines(lang: str) -> list[str]:
    words = {
        "en": ("", "elementwise, 2 units", "3 units", "1 unit", "or"),
        "zh": ("", "逐元素，2 个单元", "3 个单元", "1 个单元", "或"),
    }[lang]
    layer = (lambda k: f"layer {k}") if lang == "en" else (lambda k: f"第 {k} 层")
    return [
        f"{layer(0)}: z0 = w0 * x + b0 ({words[1]})   w0 = [0.1, 0.2], b0 = [0.1, 0.2]",
        "         a0 = sigmoid(z0)",
        f"{layer(1)}: z1 = W1 a0 + b1 ({words[2]})   W1 = [[0.3, 0.4], [0.4, 0.5], [0.5, 0.5]]",
        "         a1 = sigmoid(z1)            b1 = [0.3, 0.4, 0.5]",
        f"{layer(2)}: z2 = W2 a1 + b2 ({words[3]})    W2 = [[0.6, 0.7, 0.8]], b2 = [0.6]",
        f"         y_hat = sigmoid(z2) {words[4]} z2",
    ]


def _training_table(t: dict[str, str]) -> Block:
    rows = []
    for out in W.OUTPUTS:
        r = W.train(max(STEPS), out)
        rows.append([out, *(f"{r['costs'][s]:.4g}" for s in STEPS)])
    return ("table", [t["after_n"], *(str(s) for s in STEPS)], rows)


def _fmt_opt(v: float | None, t: dict[str, str], digits: int = 4) -> str:
    return t["none"] if v is None else f"{v:.{digits}f}"


def backprop_document(lang: str = "en") -> list[Block]:
    """The whole worked example as blocks (see the module docstring)."""
    if lang not in TEXT:
        raise ValueError(f"lang must be one of {sorted(TEXT)}, got {lang!r}")
    t = TEXT[lang]
    notes = W.NETWORK_NOTES if lang == "en" else NOTES_ZH
    doc: list[Block] = [("h1", t["title"]), ("p", t["setup"]), ("p", t["network"])]
    doc += [("eq", _network_lines(lang)), ("p", t["notes"]), ("list", list(notes))]
    for out in W.OUTPUTS:
        eq = equations(out)
        tr = W.check_with_autograd(out)
        ag = max(c.autograd_diff for c in tr.checks)
        fd = max(c.fd_diff or 0.0 for c in tr.checks)
        doc += [("h2", t[out])]
        for key in ("forward", "cost", "backward", "update"):
            doc += [("p", t[key]), ("eq", eq[key])]
        verdict = t["ok"] if tr.ok else t["bad"]
        doc += [("p", t["check"].format(ag=ag, fd=fd, verdict=verdict))]
    n = max(STEPS)
    sig, lin = W.train(n, "sigmoid"), W.train(n, "linear")
    k = int(np.argmax(np.array(lin["costs"]) < 1e-3))
    doc += [("h2", t["why_title"]), ("p", t["training"]), _training_table(t)]
    why = t["why"].format(n=n, yhat=sig["y_hat"], c=sig["costs"][-1], k=k, c_lin=lin["costs"][-1])
    doc += [("p", why), ("h2", t["errata_title"]), ("p", t["errata_intro"])]
    rows = [
        [
            e.quantity,
            f"{e.tutorial:.4f}",
            _fmt_opt(e.correct, t),
            "" if e.own is None else f"{e.own:.4f}",
            REASONS[lang][e.reason],
        ]
        for e in W.tutorial_errors()
    ]
    header = [t["quantity"], t["tutorial"], t["correct"], t["own"], t["why_col"]]
    doc.append(("table", header, rows))
    return doc


def document_numbers(doc: list[Block]) -> dict[str, Any]:
    """``name -> printed value`` for every equation line of ``doc`` (for checking)."""
    out: dict[str, Any] = {}
    for b in doc:
        if b[0] == "eq":
            for line in b[1]:
                parts = line.split(" = ")
                if len(parts) >= 2:
                    out[parts[0]] = parts[-1]
    return out
