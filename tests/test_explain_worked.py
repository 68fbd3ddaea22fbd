"""``tapegrad explain``: every printed number recomputed independently (float64 NumPy
written out here, not the package's code), the list of the tutorial's errors, the
Chinese prose, the linear-regression example, and bad input."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tapegrad.cli import main


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _run(capsys, *argv):
    rc = main(["explain", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------- the network, by hand
def by_hand(output: str) -> dict[str, float]:
    """Every named quantity of the worked example, in float64, written out longhand."""
    x1, x2, y, lr = 1.0, 2.0, 3.0, 0.01
    w0 = [0.1, 0.2]
    b0 = [0.1, 0.2]
    W1 = [[0.3, 0.4], [0.4, 0.5], [0.5, 0.5]]
    b1 = [0.3, 0.4, 0.5]
    W2 = [0.6, 0.7, 0.8]
    b2 = 0.6
    v: dict[str, float] = {}
    z0 = [w0[0] * x1 + b0[0], w0[1] * x2 + b0[1]]
    a0 = [sig(z) for z in z0]
    z1 = [W1[i][0] * a0[0] + W1[i][1] * a0[1] + b1[i] for i in range(3)]
    a1 = [sig(z) for z in z1]
    z2 = W2[0] * a1[0] + W2[1] * a1[1] + W2[2] * a1[2] + b2
    yh = sig(z2) if output == "sigmoid" else z2
    for j in range(2):
        v[f"z0_{j + 1}"], v[f"a0_{j + 1}"] = z0[j], a0[j]
    for i in range(3):
        v[f"z1_{i + 1}"], v[f"a1_{i + 1}"] = z1[i], a1[i]
    v["z2"], v["y_hat"], v["C"] = z2, yh, 0.5 * (y - yh) ** 2
    v["dC/dy_hat"] = yh - y
    d2 = (yh - y) * (yh * (1 - yh) if output == "sigmoid" else 1.0)
    v["delta2"] = v["dC/db2"] = d2
    grads = {"b2": d2}
    for i in range(3):
        v[f"dC/dW2_{i + 1}"] = grads[f"W2_{i + 1}"] = d2 * a1[i]
    d1 = [W2[i] * d2 * a1[i] * (1 - a1[i]) for i in range(3)]
    for i in range(3):
        v[f"delta1_{i + 1}"] = v[f"dC/db1_{i + 1}"] = grads[f"b1_{i + 1}"] = d1[i]
        for j in range(2):
            v[f"dC/dW1_{i + 1}{j + 1}"] = grads[f"W1_{i + 1}{j + 1}"] = d1[i] * a0[j]
    for j in range(2):
        d0 = sum(W1[i][j] * d1[i] for i in range(3)) * a0[j] * (1 - a0[j])
        v[f"delta0_{j + 1}"] = v[f"dC/db0_{j + 1}"] = grads[f"b0_{j + 1}"] = d0
        v[f"dC/dw0_{j + 1}"] = grads[f"w0_{j + 1}"] = d0 * (x1, x2)[j]
    old = {"b2": b2}
    for i in range(3):
        old[f"W2_{i + 1}"], old[f"b1_{i + 1}"] = W2[i], b1[i]
        for j in range(2):
            old[f"W1_{i + 1}{j + 1}"] = W1[i][j]
    for j in range(2):
        old[f"w0_{j + 1}"], old[f"b0_{j + 1}"] = w0[j], b0[j]
    for k in old:
        v[f"new {k}"] = old[k] - lr * grads[k]
    return v


def sgd_costs(output: str, steps: int) -> list[float]:
    """Plain SGD on the same network, vectorised independently of the package."""
    w0, b0 = np.array([0.1, 0.2]), np.array([0.1, 0.2])
    W1, b1 = np.array([[0.3, 0.4], [0.4, 0.5], [0.5, 0.5]]), np.array([0.3, 0.4, 0.5])
    W2, b2 = np.array([0.6, 0.7, 0.8]), 0.6
    x, costs = np.array([1.0, 2.0]), []
    for _ in range(steps + 1):
        a0 = sig(w0 * x + b0)
        a1 = sig(W1 @ a0 + b1)
        z2 = W2 @ a1 + b2
        yh = sig(z2) if output == "sigmoid" else z2
        costs.append(0.5 * (3 - yh) ** 2)
        d2 = (yh - 3) * (yh * (1 - yh) if output == "sigmoid" else 1)
        d1 = W2 * d2 * a1 * (1 - a1)
        d0 = (W1.T @ d1) * a0 * (1 - a0)
        W2, b2 = W2 - 0.01 * d2 * a1, b2 - 0.01 * d2
        W1, b1 = W1 - 0.01 * np.outer(d1, a0), b1 - 0.01 * d1
        w0, b0 = w0 - 0.01 * d0 * x, b0 - 0.01 * d0
    return costs


def equation_lines(text: str) -> list[str]:
    return [m for m in re.findall(r"^ {0,4}(\S[^\n]* = [^\n]*)$", text, re.M) if " = " in m]


def _decimals(s: str) -> int:
    return len(s.split(".")[1]) if "." in s else 0


def check_equations(section: str, expected: dict[str, float]) -> set[str]:
    """Every ``name = ... = value`` line: the value matches the independent number to
    its printed precision and the numeric expression before it evaluates to it.
    Returns the names seen; ``EVALUATED[0]`` counts the expressions evaluated."""
    seen = set()
    for line in equation_lines(section):
        parts = line.strip().split(" = ")
        name, value = parts[0], parts[-1]
        if name not in expected:
            continue
        seen.add(name)
        got = float(value)
        assert abs(got - expected[name]) <= 0.5 * 10 ** -_decimals(value) + 1e-12, (
            line,
            expected[name],
        )
        expr = parts[-2]
        if re.fullmatch(r"[\d\s.*+\-()/sigmoid]+", expr) and any(c.isdigit() for c in expr):
            ev = eval(expr, {"__builtins__": {}}, {"sigmoid": sig})  # noqa: S307
            assert math.isclose(ev, got, rel_tol=2e-3, abs_tol=3e-4), (line, ev)
            EVALUATED[0] += 1
    return seen


EVALUATED = [0]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_backprop_every_printed_number(capsys, fmt):
    rc, out, err = _run(capsys, "backprop", "--format", fmt)
    assert rc == 0 and err == ""
    i_lin = out.index("2. Linear output")
    i_why = out.index("3. Why a sigmoid output")
    for output, section in (("sigmoid", out[:i_lin]), ("linear", out[i_lin:i_why])):
        expected = by_hand(output)
        EVALUATED[0] = 0
        seen = check_equations(section, expected)
        # all but the plain copies (dC/db = delta, y_hat = z2) are recomputed from the
        # numbers printed on their own line
        assert EVALUATED[0] >= len(expected) - 9, EVALUATED[0]
        assert seen == set(expected), sorted(set(expected) - seen)
        assert "all checks passed" in section
    # the training table and the explanation of why a sigmoid never reaches 3
    sig_c, lin_c = sgd_costs("sigmoid", 1000), sgd_costs("linear", 1000)
    rows = [[c for c in re.split(r"[\s|]+", r) if c] for r in out[i_why:].split("\n")]
    for name, costs in (("sigmoid", sig_c), ("linear", lin_c)):
        cells = next(r for r in rows if r and r[0] == name)[1:]
        for cell, n in zip(cells, (0, 1, 10, 100, 1000)):
            assert math.isclose(float(cell), costs[n], rel_tol=1e-3), (name, n, cell)
    assert min(sig_c) > 2.0  # y_hat < 1 => C > 1/2 (3 - 1)^2
    k = next(i for i, c in enumerate(lin_c) if c < 1e-3)
    assert f"C < 0.001 after {k} steps" in out
    assert f"C = {sig_c[1000]:.4f}, still above 2" in out


# The tutorial's printed numbers, in its order (quantity -> value), and the right ones.
TUTORIAL = {
    "a0_1 = sigmoid(0.2)": 0.5236, "a0_2 = sigmoid(0.6)": 0.5488,
    "z1_1": 0.5864, "z1_2": 0.6418, "z1_3": 0.6672,
    "a1_1": 0.5704, "a1_2": 0.5294, "a1_3": 0.5263,
    "z2_1": 1.4379, "y_hat = a2_1": 0.9164,
    "z2_2": 1.4493, "z2_3": 1.4607, "a2_2": 0.9087, "a2_3": 0.9017,
    "C": 3.9256,
    "dC/dz2_1": 0.0375, "dC/dz2_2": 0.0342, "dC/dz2_3": 0.0319,
    "dC/dz1_1": 0.0212, "dC/dz1_2": 0.0196, "dC/dz1_3": 0.0184,
    "dC/dz0_1": 0.0119, "dC/dz0_2": 0.0110,
    "new W2_1": 0.5953, "new W2_2": 0.6955, "new W2_3": 0.7684,
    "new b2_1": 0.5953, "new b2_2": 0.6955, "new b2_3": 0.7684,
    "new w1_11 (W1[0,0])": 0.2875, "new w1_12 (W1[0,1])": 0.3996, "new w1_13 (W1[1,1])": 0.4966,
    "new b1_1": 0.2788, "new b1_2": 0.3904, "new b1_3": 0.4916,
    "new w0_1": 0.0895, "new w0_2": 0.1804, "new b0_1": 0.0881, "new b0_2": 0.1800,
}  # fmt: skip


def test_backprop_list_of_the_tutorials_errors(capsys):
    rc, out, _ = _run(capsys, "backprop", "--format", "markdown")
    assert rc == 0
    table = out[out.index("## 4.") :]
    rows = [
        [c.strip() for c in line.strip("|").split(" | ")]
        for line in table.split("\n")
        if line.startswith("| ") and not line.startswith(("| quantity", "| ---"))
    ]
    assert [r[0] for r in rows] == list(TUTORIAL)
    v = by_hand("sigmoid")
    right = {
        "a0_1 = sigmoid(0.2)": v["a0_1"], "a0_2 = sigmoid(0.6)": v["a0_2"], "z2_1": v["z2"],
        "y_hat = a2_1": v["y_hat"], "C": v["C"], "dC/dz2_1": v["delta2"],
        "new b2_1": v["new b2"], "new w1_11 (W1[0,0])": v["new W1_11"],
        "new w1_12 (W1[0,1])": v["new W1_12"], "new w1_13 (W1[1,1])": v["new W1_22"],
    }  # fmt: skip
    for i in range(1, 4):
        right[f"z1_{i}"], right[f"a1_{i}"] = v[f"z1_{i}"], v[f"a1_{i}"]
        right[f"dC/dz1_{i}"], right[f"new W2_{i}"] = v[f"delta1_{i}"], v[f"new W2_{i}"]
        right[f"new b1_{i}"] = v[f"new b1_{i}"]
    for j in (1, 2):
        right[f"dC/dz0_{j}"] = v[f"delta0_{j}"]
        right[f"new w0_{j}"], right[f"new b0_{j}"] = v[f"new w0_{j}"], v[f"new b0_{j}"]
    for q, tut, correct, *_ in rows:
        assert float(tut) == TUTORIAL[q]
        if q in right:
            assert abs(float(correct) - right[q]) <= 5e-5, (q, correct, right[q])
            assert abs(float(correct) - TUTORIAL[q]) > 1e-4, q  # each listed number is wrong
        else:
            assert "no such unit" in correct, q
    assert round(sig(0.2), 4) == 0.5498 and round(sig(0.6), 4) == 0.6457
    assert "| a0_1 = sigmoid(0.2) | 0.5236 | 0.5498 |" in table
    assert "| a0_2 = sigmoid(0.6) | 0.5488 | 0.6457 |" in table
    # the tutorial's own arithmetic on its own inputs, e.g. 1/2 (3 - 0.9164)^2
    assert f"| C | 3.9256 | {v['C']:.4f} | {0.5 * (3 - 0.9164) ** 2:.4f} |" in table


def test_backprop_in_chinese(capsys):
    _, en, _ = _run(capsys, "backprop")
    rc, zh, _ = _run(capsys, "backprop", "--lang", "zh")
    assert rc == 0
    assert "手算反向传播" in zh and "为什么 Sigmoid 输出永远达不到目标值 3" in zh
    en_eq = [e for e in equation_lines(en) if not e.startswith(("layer", "   "))]
    zh_eq = [e for e in equation_lines(zh) if not e.startswith(("第", "   "))]
    assert en_eq and [e for e in en_eq if e.startswith("    ")] == [
        e for e in zh_eq if e.startswith("    ")
    ]


def test_linear_regression_every_printed_number(capsys):
    rc, out, _ = _run(capsys, "linear-regression")
    assert rc == 0
    w, b = (float(s) for s in re.search(r"w = (-?[\d.]+), b = (-?[\d.]+)\. The", out).groups())
    rng = np.random.default_rng(0)
    w0, b0 = rng.standard_normal(), rng.standard_normal()
    assert (round(w0, 4), round(b0, 4)) == (w, b)
    x = np.arange(1.0, 6.0)
    r = w0 * x + b0 - x
    dw, db = 2 / 5 * (r @ x), 2 / 5 * r.sum()
    exp = {
        "L": np.mean(r**2),
        "dL/dw": dw,
        "dL/db": db,
        "dw_tutorial": -2 * (r @ x),
        "db_tutorial": -2 * r.mean(),
    }
    i_bad = out.index("The tutorial's gradient")
    good, bad = out[:i_bad], out[i_bad:]
    exp_good = {**exp, "new w": w0 - 0.01 * dw, "new b": b0 - 0.01 * db}
    exp_bad = {**exp, "new w": w0 + 0.01 * 2 * (r @ x), "new b": b0 + 0.01 * 2 * r.mean()}
    assert check_equations(good, exp_good) == {"L", "dL/dw", "dL/db", "new w", "new b"}
    seen = check_equations(bad, exp_bad)
    assert seen == {"L", "dw_tutorial", "db_tutorial", "new w", "new b"}
    # the histories, by an independent loop
    for section, sign, scale in ((good, 1, 1), (bad, -1, 5)):
        ww, bb, hist = w0, b0, []
        for _ in range(1000):
            rr = ww * x + bb - x
            hist.append((np.mean(rr**2), ww, bb))
            if hist[-1][0] > 1e12:
                break
            ww, bb = (
                ww - 0.01 * sign * scale * 2 / 5 * (rr @ x),
                bb - 0.01 * sign * 2 / 5 * rr.sum(),
            )
        for e, loss, wt, bt in re.findall(r"^(\d+) +(\S+) +(\S+) +(\S+)$", section, re.M):
            L, W_, B_ = hist[int(e)]
            assert math.isclose(float(loss), L, rel_tol=1e-3), (e, loss, L)
            assert abs(float(wt) - W_) <= 5e-5 * max(1, abs(W_)) and abs(
                float(bt) - B_
            ) <= 5e-5 * max(1, abs(B_))
    # the spectral radii that predict convergence and divergence
    A = np.stack([x, np.ones(5)], 1)
    H = 2 / 5 * A.T @ A
    rho = lambda D: np.abs(np.linalg.eigvals(np.eye(2) - 0.01 * D @ H)).max()  # noqa: E731
    assert f"{rho(np.eye(2)):.4f} for the right" in out
    assert f"{rho(np.diag([-5.0, -1.0])):.4f} for the tutorial's" in out
    assert rho(np.diag([-5.0, -1.0])) > 1 > rho(np.eye(2))
    assert f"after {len(hist) - 1} steps" in out


def test_explain_lists_examples_and_rejects_bad_input(capsys):
    rc, out, _ = _run(capsys)
    assert rc == 0 and "backprop" in out and "linear-regression" in out
    for argv, word in (
        (["nope"], "unknown example"),
        (["backprop", "--format", "html"], "--format"),
        (["backprop", "--lang", "fr"], "--lang"),
        (["linear-regression", "--lang", "zh"], "--lang"),
    ):
        rc, out, err = _run(capsys, *argv)
        assert rc == 2 and out == "" and word in err
        assert len(err.strip().split("\n")) == 1 and "Traceback" not in err
