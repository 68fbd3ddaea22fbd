"""The package type-checks: mypy, configured in pyproject.toml, finds no error.

The configuration runs the strict flags on the autograd core and ``tensor.py``
and the default checks everywhere else in ``src/tapegrad``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        from mypy import api
    except ImportError:
        pytest.skip("mypy is not installed (it is in the test extra: pip install -e '.[test]')")
    monkeypatch.chdir(ROOT)  # mypy reads pyproject.toml and its `files` from here
    stdout, stderr, status = api.run([])
    assert status == 0, f"mypy reported errors:\n{stdout}{stderr}"
    assert "Success: no issues found" in stdout, stdout
