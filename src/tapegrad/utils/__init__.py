"""Utilities under PyTorch's names (:mod:`tapegrad.utils.data`)."""

from . import data

__all__ = ["data"]
