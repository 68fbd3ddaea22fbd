"""Hook handles: what every ``register_*hook`` method returns.

As in PyTorch (``torch.utils.hooks.RemovableHandle``), ``handle.remove()``
unregisters the hook, and the handle works as a context manager. This module
depends on nothing, so the Tensor core can use it.
"""

from __future__ import annotations

from typing import Any


class RemovableHandle:
    """A handle that removes one hook from the registry it was added to.

    Args:
        hooks_dict: the registry, a ``dict`` from handle id to hook.

    Calling the handle, ``handle()``, also removes the hook: tapegrad's
    ``Tensor.register_hook`` used to return a plain removal function.
    """

    _next_id = 0

    def __init__(self, hooks_dict: dict[int, Any]) -> None:
        self.hooks_dict = hooks_dict
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        """Unregister the hook; removing twice does nothing."""
        self.hooks_dict.pop(self.id, None)

    def __call__(self) -> None:
        self.remove()

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *args: Any) -> None:
        self.remove()
