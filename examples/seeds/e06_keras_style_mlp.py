"""E6 (the mapping tutorial, §5.2): the Keras/GradientTape training loop, written with tapegrad.

What the tutorial intended: Input(2) -> Dense(3, sigmoid) -> Dense(3, sigmoid) ->
Dense(1, sigmoid), mean squared error, Adam with learning rate 0.01, an explicit
``GradientTape`` loop (forward under the tape, ``tape.gradient(loss, variables)``,
``optimizer.apply_gradients(zip(gradients, variables))``) for 1000 epochs, then a
prediction on [1, 2] (the worked example's input, whose target is 3).

What was wrong: the code never builds a model or its trainable variables
(``model``, ``y_true`` and ``training_variables`` are undefined, and the
"prediction" is the symbolic output layer, not a call on data). And with a
sigmoid output the target 3 is unreachable.

What this script does: the same architecture as ``nn.Sequential``; the tape is
tapegrad's graph, ``tape.gradient`` is :func:`tapegrad.grad`, and
``apply_gradients`` sets ``p.grad`` and calls ``Adam.step``. The target is
handled one of two ways (``--head``):

- ``sigmoid`` (default, the article's architecture): the target is divided by
  ``--scale`` (4, so 3 becomes 0.75, inside (0, 1)) and predictions are
  multiplied back;
- ``linear``: the last Dense layer has no activation and learns 3 directly.

Run:  python examples/seeds/e06_keras_style_mlp.py [--epochs 1000] [--head sigmoid|linear]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim

X_TRAIN = np.array([[1.0, 2.0]])  # (1, 2): the worked example's input
Y_TRAIN = np.array([[3.0]])  # (1, 1): its target


def build(head: str = "sigmoid", dtype: Any = tg.float32) -> nn.Sequential:
    """Input(2) -> Dense(3, sigmoid) -> Dense(3, sigmoid) -> Dense(1, head)."""
    layers: list[nn.Module] = [
        nn.Linear(2, 3, dtype=dtype),
        nn.Sigmoid(),
        nn.Linear(3, 3, dtype=dtype),
        nn.Sigmoid(),
        nn.Linear(3, 1, dtype=dtype),
    ]
    if head == "sigmoid":
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def apply_gradients(
    opt: optim.Optimizer, grads_and_vars: Iterable[tuple[tg.Tensor, tg.Tensor]]
) -> None:
    """Keras's ``optimizer.apply_gradients``: install each gradient and take one step."""
    for g, v in grads_and_vars:
        v.grad = g
    opt.step()


def train(
    epochs: int = 1000,
    lr: float = 0.01,
    head: str = "sigmoid",
    scale: float = 4.0,
    seed: int = 0,
    dtype: Any = tg.float32,
    init_state: dict[str, Any] | None = None,
    log_every: int = 0,
) -> dict[str, Any]:
    """Train on (X_TRAIN, Y_TRAIN) with the GradientTape-style loop.

    Args:
        scale: the target is divided by this for a sigmoid head (ignored for linear).
        init_state: a state dict to start from (to compare with another framework).

    Returns ``model``, ``initial_state`` (NumPy copies of the starting weights),
    ``losses`` (one per epoch, in the scaled units the model is trained in),
    ``prediction`` (the model's output on [1, 2], in the target's units).
    """
    tg.manual_seed(seed)
    model = build(head, dtype)
    if init_state is not None:
        model.load_state_dict(init_state)
    initial = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    s = scale if head == "sigmoid" else 1.0
    x = tg.tensor(X_TRAIN, dtype=dtype)
    y_true = tg.tensor(Y_TRAIN / s, dtype=dtype)
    cost_function = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    variables: Sequence[tg.Tensor] = list(model.parameters())
    losses = []
    for epoch in range(epochs):
        predictions = model(x)  # the "tape": tapegrad records this forward pass
        loss = cost_function(predictions, y_true)
        gradients = tg.grad(loss, variables)  # tape.gradient(loss, variables)
        apply_gradients(optimizer, zip(gradients, variables))
        losses.append(loss.item())
        if log_every and epoch % log_every == 0:
            print(f"  epoch {epoch:4d}: loss {loss.item():.3e}")
    with tg.no_grad():
        pred = model(tg.tensor([[1.0, 2.0]], dtype=dtype)).numpy()[0, 0] * s
    return {"model": model, "initial_state": initial, "losses": losses, "prediction": float(pred)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--head", choices=["sigmoid", "linear"], default="sigmoid")
    p.add_argument("--scale", type=float, default=4.0, help="target divisor for a sigmoid head")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    note = f"target 3 / {a.scale} = {3 / a.scale:.3g}" if a.head == "sigmoid" else "target 3"
    print(f"2 -> 3 sigmoid -> 3 sigmoid -> 1 {a.head}; MSE on {note}; Adam lr {a.lr}")
    r = train(a.epochs, a.lr, a.head, a.scale, a.seed, log_every=max(1, a.epochs // 10))
    print(f"final loss {r['losses'][-1]:.3e}")
    print(f"Predicted output for [1, 2]: {r['prediction']:.4f} (target 3)")


if __name__ == "__main__":
    main()
