"""Utilities under PyTorch's names: :mod:`tapegrad.utils.data` (datasets, loaders,
samplers), :mod:`tapegrad.utils.hooks` (removable hook handles), and
:func:`make_grid` / :func:`save_image` (torchvision's image-grid helpers, in
:mod:`tapegrad.utils.image`).

This package imports nothing itself, so the core can use ``utils.hooks`` without
pulling in the data modules; ``import tapegrad`` loads the subpackages, and
``make_grid``/``save_image`` are looked up from :mod:`tapegrad.utils.image` on
first use (it needs the Tensor, which needs ``utils.hooks``).
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("make_grid", "save_image"):
        from . import image

        return getattr(image, name)
    raise AttributeError(f"module 'tapegrad.utils' has no attribute {name!r}")
