"""``tapegrad recipes``: list the named training recipes with their measured metrics.

Each is a set of ``tapegrad train`` settings (:mod:`tapegrad.gan.recipes`) that
``tapegrad train --recipe NAME`` starts from; the private recipe ``dp``
(:mod:`tapegrad.privacy.recipe`) is listed last.
"""

from __future__ import annotations

import argparse

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "recipes"
HELP = "list the named recipes of `tapegrad train --recipe` with their measured metrics"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    """Print every recipe; 0."""
    from ..gan.recipes import format_recipes
    from ..privacy.recipe import format_dp_recipe

    print(format_recipes())
    print(format_dp_recipe())
    return 0
