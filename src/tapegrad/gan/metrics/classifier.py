"""The MNIST classifier behind the offline GAN metrics, trained by tapegrad and shipped.

The network (:class:`MNISTClassifier`, about 225,000 float32 parameters)::

    conv 1->32 k3, ReLU, maxpool 2     (28 -> 26 -> 13)
    conv 32->64 k3, ReLU, maxpool 2    (13 -> 11 -> 5)
    flatten 1600 -> fc 128             <- the feature layer (:func:`features`)
    ReLU, dropout 0.25, fc 10          -> logits

The weights file ``mnist_classifier_v1.safetensors`` next to this module was made by
``scripts/train_metric_classifier.py`` (2 epochs of Adam on the 60,000 MNIST training
images, seed 0); its SHA-256 is :data:`SHA256` and it holds the version string
:data:`VERSION`. :func:`load_classifier` checks both, so a metric value is only ever
computed with the network it claims to use; a metric computed with another version of
the classifier is not comparable.

Inputs: images as a NumPy array or Tensor of shape ``(N, 28, 28)``, ``(N, 1, 28, 28)`` or
``(N, 784)``. Float images are mapped from ``input_range`` (default ``(-1, 1)``, the GAN
convention of a tanh generator; pass ``(0, 1)`` for images in [0, 1]) to the [0, 1] the
network was trained on; values are not clipped. ``uint8`` images are read as 0-255
whatever ``input_range`` says.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ... import nn
from ...autograd import no_grad
from ...nn import functional as F
from ...serialization import load
from ...tensor import Tensor, _wrap

__all__ = [
    "VERSION",
    "SHA256",
    "FEATURE_DIM",
    "WEIGHTS_PATH",
    "MNISTClassifier",
    "load_classifier",
    "prepare_images",
    "features",
    "logits",
    "probs",
    "predict",
]

#: Version string stored in the weights file; metric values are tied to it.
VERSION = "mnist-classifier-v1"
#: SHA-256 of the shipped weights file (printed by scripts/train_metric_classifier.py).
SHA256 = "b5ed475b5ceca1923c09c4eaa151a16a8b37053ea54ac8956e82b5033f36cfd1"
#: Width of the feature layer.
FEATURE_DIM = 128
#: The shipped weights file.
WEIGHTS_PATH = Path(__file__).with_name("mnist_classifier_v1.safetensors")

_CACHE: dict[str, MNISTClassifier] = {}
_LOCK = threading.Lock()


class MNISTClassifier(nn.Module):
    """The metric CNN; ``forward`` takes float32 ``(N, 1, 28, 28)`` in [0, 1], gives logits
    ``(N, 10)``; :meth:`features` gives the ``(N, 128)`` feature layer (the fc-128 output,
    before its ReLU: closer to Gaussian than the rectified values and free of exact zeros)."""

    def __init__(self, dropout: float = 0.25) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 5 * 5, FEATURE_DIM)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(FEATURE_DIM, 10)

    def features(self, x: Tensor) -> Tensor:
        """``(N, 1, 28, 28)`` -> the ``(N, 128)`` feature layer."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return self.fc1(h.reshape(h.shape[0], -1))

    def forward(self, x: Tensor) -> Tensor:
        """``(N, 1, 28, 28)`` -> the ``(N, 10)`` class logits."""
        return self.fc2(self.drop(F.relu(self.features(x))))


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_classifier(path: str | Path | None = None, sha256: str | None = SHA256) -> MNISTClassifier:
    """The metric classifier in eval mode, loaded once per path and cached.

    Args:
        path: a weights file; default the shipped :data:`WEIGHTS_PATH`.
        sha256: the SHA-256 the file must have (default :data:`SHA256`, the shipped
            file's); ``None`` skips the check (for weights you trained yourself; their
            metric values are then not comparable with published ones).

    Returns:
        The cached :class:`MNISTClassifier` (do not train it or change its mode).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file's SHA-256 differs from ``sha256`` (corrupt, or another
            version), or it does not hold a ``mnist-classifier-v1`` state dict.
    """
    p = Path(path) if path is not None else WEIGHTS_PATH
    key = f"{p.resolve()}|{sha256}"
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if not p.is_file():
            raise FileNotFoundError(f"load_classifier: no weights file at {p}")
        if sha256 is not None:
            got = _file_sha256(p)
            if got != sha256:
                raise ValueError(
                    f"load_classifier: {p} has SHA-256 {got}, but {VERSION} must have "
                    f"{sha256}: the file is corrupt or is another version of the classifier. "
                    f"Reinstall tapegrad, or pass sha256=None to use weights you trained "
                    f"yourself (their metric values are not comparable with published ones)."
                )
        obj = load(p)
        if not isinstance(obj, dict) or obj.get("version") != VERSION:
            found = obj.get("version") if isinstance(obj, dict) else type(obj).__name__
            raise ValueError(f"load_classifier: {p} holds version {found!r}, expected {VERSION!r}")
        model = MNISTClassifier()
        model.load_state_dict(obj["state_dict"])
        model.eval()
        model.requires_grad_(False)
        _CACHE[key] = model
        return model


def prepare_images(
    images: Any, input_range: tuple[float, float] = (-1.0, 1.0), who: str = "prepare_images"
) -> np.ndarray:
    """Images as the network's input: float32 ``(N, 1, 28, 28)`` in [0, 1].

    Args:
        images: NumPy array or Tensor ``(N, 28, 28)``, ``(N, 1, 28, 28)`` or ``(N, 784)``.
        input_range: ``(low, high)`` of float images, mapped to [0, 1]; ignored for uint8.
        who: the public function's name, for error messages.
    """
    x = np.asarray(images._array if isinstance(images, Tensor) else images)
    n = x.shape[0] if x.ndim else 0
    if not (
        (x.ndim == 3 and x.shape[1:] == (28, 28))
        or (x.ndim == 4 and x.shape[1:] == (1, 28, 28))
        or (x.ndim == 2 and x.shape[1] == 784)
    ):
        raise ValueError(
            f"{who}: expected MNIST images of shape (N, 28, 28), (N, 1, 28, 28) or (N, 784), "
            f"got {x.shape}"
        )
    if x.dtype == np.uint8:
        return (x.astype(np.float32) / np.float32(255.0)).reshape(n, 1, 28, 28)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{who}: images must be numeric, got dtype {x.dtype}")
    lo, hi = (float(v) for v in input_range)
    if not hi > lo:
        raise ValueError(
            f"{who}: input_range must be (low, high) with low < high, got {input_range}"
        )
    x = x.astype(np.float32, copy=False).reshape(n, 1, 28, 28)
    if lo < 0.0 and n >= 16 and float(x.min()) >= 0.0:
        # the common mistake: [0, 1] images under the default (-1, 1) range
        warnings.warn(
            f"{who}: all pixel values are >= 0 but input_range={tuple(input_range)}; if your "
            f"images are in [0, 1], pass input_range=(0, 1)",
            stacklevel=3,
        )
    return (x - np.float32(lo)) * np.float32(1.0 / (hi - lo))


def _batched(images: Any, batch_size: int, input_range: Any, who: str, head: str) -> np.ndarray:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{who}: batch_size must be a positive int, got {batch_size!r}")
    x = prepare_images(images, input_range, who)
    model = load_classifier()
    width = FEATURE_DIM if head == "features" else 10
    out = np.empty((x.shape[0], width), dtype=np.float64)
    with no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb = _wrap(np.ascontiguousarray(x[i : i + batch_size]))
            y = model.features(xb) if head == "features" else model(xb)
            out[i : i + batch_size] = y._array
    return out


def features(
    images: Any, batch_size: int = 500, input_range: tuple[float, float] = (-1.0, 1.0)
) -> np.ndarray:
    """The classifier's feature layer for ``images``: float64 ``(N, 128)``.

    See the module docstring for the accepted images and ``input_range``.
    """
    return _batched(images, batch_size, input_range, "features", "features")


def logits(
    images: Any, batch_size: int = 500, input_range: tuple[float, float] = (-1.0, 1.0)
) -> np.ndarray:
    """The classifier's logits for ``images``: float64 ``(N, 10)``."""
    return _batched(images, batch_size, input_range, "logits", "logits")


def probs(
    images: Any, batch_size: int = 500, input_range: tuple[float, float] = (-1.0, 1.0)
) -> np.ndarray:
    """Class probabilities (softmax of the logits): float64 ``(N, 10)``, rows sum to 1."""
    z = _batched(images, batch_size, input_range, "probs", "logits")
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def predict(
    images: Any, batch_size: int = 500, input_range: tuple[float, float] = (-1.0, 1.0)
) -> np.ndarray:
    """Predicted digit for each image: int64 ``(N,)``."""
    z = _batched(images, batch_size, input_range, "predict", "logits")
    return z.argmax(axis=1).astype(np.int64)
