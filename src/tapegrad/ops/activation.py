"""Activations and the softmax family (being written)."""

from __future__ import annotations

__all__ = []
