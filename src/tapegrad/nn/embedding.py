"""``Embedding``: a lookup table ``weight[indices]``, and its functional form ``embedding``.

The lookup is the general ``index_select`` along the rows of the weight, whose
backward adds the output gradient into the rows that were looked up (an index
that appears several times accumulates its gradients) and is differentiable
again. The ``padding_idx`` row receives no gradient: the looked-up padding
rows are taken from a detached copy of the output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import xp
from ..dtypes import get_default_dtype
from ..ops.elementwise import where
from ..ops.indexing import index_select
from ..ops.shape import reshape
from ..tensor import Tensor, as_tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding", "embedding"]


def embedding(
    input: Any,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
) -> Tensor:
    """Rows of ``weight`` ``(num_embeddings, embedding_dim)`` at integer ``input`` (any shape).

    Returns a tensor of shape ``input.shape + (embedding_dim,)``. ``padding_idx``'s
    row gets no gradient. With ``max_norm``, the looked-up rows whose
    ``norm_type``-norm exceeds it are rescaled to that norm in ``weight`` itself
    (in place, not recorded), as in PyTorch.
    """
    idx = input._array if isinstance(input, Tensor) else xp.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D, got shape {tuple(weight.shape)}")
    n = weight.shape[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(
            f"embedding: index out of range: indices span [{int(idx.min())}, {int(idx.max())}] "
            f"for {n} embeddings"
        )
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    idx = np.where(idx < 0, idx + n, idx) if idx.size and idx.min() < 0 else idx
    if max_norm is not None:
        rows = np.unique(idx)
        w = weight._array
        norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w[rows] *= scale[:, None].astype(w.dtype)
    out = index_select(weight, 0, idx.reshape(-1))
    if padding_idx is not None:
        pad = (idx == padding_idx).reshape(-1, 1)
        if pad.any():
            # Same values; the padding positions send no gradient to the weight.
            out = where(pad, out.detach(), out)
    return reshape(out, idx.shape + (weight.shape[1],))


class Embedding(Module):
    """A learned table of ``num_embeddings`` vectors of size ``embedding_dim``.

    ``forward(indices)`` maps integer indices of any shape to
    ``indices.shape + (embedding_dim,)``. ``weight`` is drawn from N(0, 1), as in
    PyTorch, with the ``padding_idx`` row zeroed (that row gets no gradient).
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: scale_grad_by_freq and sparse are not supported")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} must be within num_embeddings "
                    f"({num_embeddings})"
                )
            if padding_idx < 0:
                padding_idx += num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        dt = get_default_dtype() if dtype is None else dtype
        if _weight is None:
            self.weight = Parameter(xp.empty((num_embeddings, embedding_dim), dtype=dt))
            self.reset_parameters()
        else:
            w = as_tensor(_weight)
            if tuple(w.shape) != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight has shape {tuple(w.shape)}, expected "
                    f"{(num_embeddings, embedding_dim)}"
                )
            self.weight = Parameter(w._array, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
    ) -> Embedding:
        """An Embedding whose weight is (a copy of) the 2-D ``embeddings``; frozen by default."""
        e = as_tensor(embeddings)
        if e.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got {e.shape}")
        return cls(
            e.shape[0],
            e.shape[1],
            padding_idx,
            max_norm,
            norm_type,
            _weight=e._array.copy(),
            _freeze=freeze,
        )

    def reset_parameters(self) -> None:
        """Redraw the weight from N(0, 1) and zero the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._array[self.padding_idx] = 0

    def forward(self, indices: Any) -> Tensor:
        """Integer ``indices`` of any shape -> ``indices.shape + (embedding_dim,)``."""
        return embedding(indices, self.weight, self.padding_idx, self.max_norm, self.norm_type)

    def extra_repr(self) -> str:
        """Its settings for the repr, those at their defaults left out."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        return s
