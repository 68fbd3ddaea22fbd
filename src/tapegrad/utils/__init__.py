"""Small utilities shared by the core and the layers (hook handles)."""

from .hooks import RemovableHandle

__all__ = ["RemovableHandle"]
