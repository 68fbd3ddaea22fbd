"""Utilities under PyTorch's names: :mod:`tapegrad.utils.data` (datasets, loaders,
samplers) and :mod:`tapegrad.utils.hooks` (removable hook handles).

This package imports nothing itself, so the core can use ``utils.hooks`` without
pulling in the data modules; ``import tapegrad`` loads both subpackages.
"""
