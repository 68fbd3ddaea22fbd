"""``python -m tapegrad.cli``: the same as the ``tapegrad`` command."""

import sys

from . import main

sys.exit(main())
