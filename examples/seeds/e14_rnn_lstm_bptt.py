"""E14: recurrent networks trained by backpropagation through time.

From the backpropagation algorithm tutorial, programming problem 7 (docs/tutorials.md).

What the tutorial intended: an RNN/LSTM trained by backpropagation on sequences.

What was wrong: ``LSTM`` is undefined (it is a Keras layer, never imported);
the "weights" are a single matrix with no recurrence, so nothing is carried
from one time step to the next; the gradient has no input term.

What this script does, in two parts:

1. A vanilla RNN written in NumPy with its BPTT written out. Forward, for t = 1..T:
   ``h_t = tanh(x_t W_ih^T + h_{t-1} W_hh^T + b)``, and the readout
   ``y = h_T W_out^T + b_out``. Backward, from ``dh_T = dL/dy W_out`` down to t = 1:

       da_t = dh_t * (1 - h_t^2)                      (through tanh)
       dW_ih += da_t^T x_t,  dW_hh += da_t^T h_{t-1},  db += sum_n da_t
       dh_{t-1} = da_t W_hh                           (through the recurrence)

   The gradients are checked against tapegrad's ``nn.RNN`` (an independent
   implementation) loaded with the same weights, and the RNN is trained by SGD
   to output the sum of its input sequence.
2. tapegrad's ``nn.LSTM`` learning the "adding problem" (Hochreiter and
   Schmidhuber, 1997): each step carries a random value and a marker; the target
   is the sum of the two marked values, which the LSTM must remember across the
   sequence. Predicting the mean (1.0) gives an MSE of 1/6 ~ 0.167.

Run:  python examples/seeds/e14_rnn_lstm_bptt.py [--steps 400] [--seq-len 10]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim


# ---------------------------------------------------------------- NumPy RNN and BPTT
def init_rnn(n_in: int, hidden: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``W_ih (H, I)``, ``W_hh (H, H)``, ``b (H,)``, ``W_out (1, H)``, ``b_out (1,)``."""
    rng = np.random.default_rng(seed)
    s = 1.0 / np.sqrt(hidden)
    return {
        "W_ih": rng.uniform(-s, s, (hidden, n_in)),
        "W_hh": rng.uniform(-s, s, (hidden, hidden)),
        "b": np.zeros(hidden),
        "W_out": rng.uniform(-s, s, (1, hidden)),
        "b_out": np.zeros(1),
    }


def rnn_forward(x: np.ndarray, p: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """``x (N, T, I)`` -> output ``(N, 1)`` and the hidden states ``[h_0, ..., h_T]``."""
    h = [np.zeros((x.shape[0], p["W_hh"].shape[0]), dtype=x.dtype)]
    for t in range(x.shape[1]):
        h.append(np.tanh(x[:, t] @ p["W_ih"].T + h[-1] @ p["W_hh"].T + p["b"]))
    return h[-1] @ p["W_out"].T + p["b_out"], h


def rnn_bptt(
    x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]
) -> tuple[float, dict[str, np.ndarray]]:
    """MSE loss ``mean((out - y)^2)`` and the gradient of every parameter, by BPTT."""
    out, h = rnn_forward(x, p)
    loss = float(np.mean((out - y) ** 2))
    dout = 2.0 * (out - y) / out.size  # (N, 1)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    g["W_out"] = dout.T @ h[-1]
    g["b_out"] = dout.sum(0)
    dh = dout @ p["W_out"]  # dL/dh_T
    for t in range(x.shape[1], 0, -1):
        da = dh * (1.0 - h[t] ** 2)
        g["W_ih"] += da.T @ x[:, t - 1]
        g["W_hh"] += da.T @ h[t - 1]
        g["b"] += da.sum(0)
        dh = da @ p["W_hh"]
    return loss, g


def tapegrad_rnn_grads(
    x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]
) -> tuple[float, dict[str, np.ndarray]]:
    """The same loss and gradients from tapegrad's ``nn.RNN`` + ``nn.Linear`` (float64)."""
    hidden, n_in = p["W_ih"].shape
    rnn = nn.RNN(n_in, hidden, batch_first=True, dtype=tg.float64)
    fc = nn.Linear(hidden, 1, dtype=tg.float64)
    rnn.load_state_dict(
        {
            "weight_ih_l0": p["W_ih"],
            "weight_hh_l0": p["W_hh"],
            "bias_ih_l0": p["b"],
            "bias_hh_l0": np.zeros(hidden),  # nn.RNN has two biases; their sum is b
        }
    )
    fc.load_state_dict({"weight": p["W_out"], "bias": p["b_out"]})
    _, h_n = rnn(tg.tensor(x))
    loss = nn.functional.mse_loss(fc(h_n[0]), tg.tensor(y))
    loss.backward()
    return loss.item(), {
        "W_ih": rnn.weight_ih_l0.grad.numpy(),
        "W_hh": rnn.weight_hh_l0.grad.numpy(),
        "b": rnn.bias_ih_l0.grad.numpy(),
        "W_out": fc.weight.grad.numpy(),
        "b_out": fc.bias.grad.numpy(),
    }


def sum_task(n: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``x (n, seq_len, 1)`` uniform in [-0.5, 0.5]; target ``(n, 1)`` its sum over time."""
    x = rng.uniform(-0.5, 0.5, (n, seq_len, 1))
    return x, x.sum(axis=1)


def train_numpy_rnn(
    steps: int = 1000, seq_len: int = 8, hidden: int = 16, lr: float = 0.2, seed: int = 0
) -> dict[str, Any]:
    """SGD with the hand-written BPTT on the sum task.

    Returns ``losses`` (per batch), ``test_mse`` on 1000 fresh sequences and
    ``baseline_mse`` (always predicting 0, i.e. the targets' variance).
    """
    rng = np.random.default_rng(seed)
    p = init_rnn(1, hidden, seed)
    losses = []
    for _ in range(steps):
        x, y = sum_task(32, seq_len, rng)
        loss, g = rnn_bptt(x, y, p)
        losses.append(loss)
        p = {k: p[k] - lr * g[k] for k in p}
    x, y = sum_task(1000, seq_len, rng)
    return {
        "losses": losses,
        "test_mse": float(np.mean((rnn_forward(x, p)[0] - y) ** 2)),
        "baseline_mse": float(np.mean(y**2)),
        "params": p,
    }


# ---------------------------------------------------------------- tapegrad LSTM
def adding_problem(n: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``x (n, seq_len, 2)``: (value, marker) per step, one marker in each half;
    target ``(n, 1)``: the sum of the two marked values."""
    v = rng.random((n, seq_len))
    m = np.zeros((n, seq_len))
    rows = np.arange(n)
    m[rows, rng.integers(0, seq_len // 2, n)] = 1.0
    m[rows, rng.integers(seq_len // 2, seq_len, n)] = 1.0
    x = np.stack([v, m], axis=-1).astype(np.float32)
    return x, (v * m).sum(axis=1, keepdims=True).astype(np.float32)


class AddingLSTM(nn.Module):
    """LSTM over the sequence; a linear layer reads the last hidden state."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])


def train_lstm(
    steps: int = 400,
    seq_len: int = 10,
    hidden: int = 16,
    lr: float = 1e-2,
    batch_size: int = 64,
    seed: int = 0,
    verbose: bool = False,
) -> dict[str, Any]:
    """Adam on the adding problem; the graph spans all time steps (full BPTT).

    Returns ``losses`` (per batch), ``test_mse`` on 1000 fresh sequences and
    ``baseline_mse`` (predicting the targets' mean).
    """
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = AddingLSTM(hidden)
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        x, y = adding_problem(batch_size, seq_len, rng)
        loss = nn.functional.mse_loss(model(tg.tensor(x)), tg.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if verbose and step % max(1, steps // 8) == 0:
            print(f"  step {step:4d}: MSE {loss.item():.4f}")
    x, y = adding_problem(1000, seq_len, rng)
    with tg.no_grad():
        pred = model(tg.tensor(x)).numpy()
    return {
        "model": model,
        "losses": losses,
        "test_mse": float(np.mean((pred - y) ** 2)),
        "baseline_mse": float(np.var(y)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=400, help="LSTM training steps")
    ap.add_argument("--seq-len", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    x, y = sum_task(4, 6, rng)
    p = init_rnn(1, 5, a.seed)
    p["b"] = rng.standard_normal(5) * 0.1
    _, mine = rnn_bptt(x, y, p)
    _, ref = tapegrad_rnn_grads(x, y, p)
    diff = max(float(np.abs(mine[k] - ref[k]).max()) for k in mine)
    print(f"NumPy BPTT vs tapegrad nn.RNN gradients: max difference {diff:.1e}")
    r = train_numpy_rnn(seed=a.seed)
    print(
        f"NumPy RNN (hidden 16) learning the sum of 8 numbers: test MSE {r['test_mse']:.4f} "
        f"(predicting 0: {r['baseline_mse']:.4f})"
    )
    print(f"\ntapegrad LSTM on the adding problem (length {a.seq_len}):")
    r = train_lstm(a.steps, a.seq_len, a.hidden, seed=a.seed, verbose=True)
    print(f"test MSE {r['test_mse']:.4f} (predicting the mean: {r['baseline_mse']:.4f})")


if __name__ == "__main__":
    main()
