"""Differential fuzzing against PyTorch: random programs of ops, views, in-place
ops, indexing and dtypes must give PyTorch's values, dtypes, errors, and first
and second derivatives (see tests/fuzz_programs.py and docs/fuzzing.md).

CI runs a bounded, reproducible number of programs. The long run is one command:

    TAPEGRAD_FUZZ_EXAMPLES=10000 TAPEGRAD_FUZZ_STATS=fuzz.json \\
        python -m pytest tests/test_fuzz_semantics.py -p no:cacheprovider

with a fresh random seed each time (set TAPEGRAD_FUZZ_SEED to repeat one);
the statistics file counts the programs tried, the steps they ran, and the
PyTorch defects met.
"""

from __future__ import annotations

import json
import os
import warnings

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fuzz_programs import TorchDefect, compare, start, step

EXAMPLES = int(os.environ.get("TAPEGRAD_FUZZ_EXAMPLES", "150"))
LONG = "TAPEGRAD_FUZZ_EXAMPLES" in os.environ
STATS = {"programs": 0, "steps": 0, "stopped_by_error": 0, "torch_defects": []}


def _settings(f):
    f = settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not LONG,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )(f)
    if "TAPEGRAD_FUZZ_SEED" in os.environ:
        f = seed(int(os.environ["TAPEGRAD_FUZZ_SEED"]))(f)
    return f


@_settings
@given(st.data())
def test_random_programs_match_torch(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = start(data)
        for _ in range(data.draw(st.integers(1, 8))):
            step(data, p)
            if p.raised:
                break
        try:
            compare(data, p)
        except TorchDefect as e:
            STATS["torch_defects"].append(str(e))
    STATS["programs"] += 1
    STATS["steps"] += len(p.steps)
    STATS["stopped_by_error"] += bool(p.raised)
    path = os.environ.get("TAPEGRAD_FUZZ_STATS")
    if path:
        with open(path, "w") as fh:
            json.dump(STATS, fh, indent=1)
