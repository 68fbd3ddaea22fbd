"""The repository speaks to its users: no words about how it was made, no machine paths.

Every git-tracked text file is scanned (binaries, ``*.json`` results and this file
are skipped). A failure lists ``file:line: what`` for each hit:

* a phrase from :data:`PHRASES` (case-insensitive, on word boundaries; a phrase may
  run across a line break). "seed" alone, as a random seed, is fine;
* an absolute path of a development machine (:data:`MACHINE_PATHS`): the workspace
  and root home folders, ``/home/<user>/...``, ``/tmp/...``; URLs and system paths such as
  ``/usr/bin/chromium`` or ``/dev/null`` are not flagged;
* a relative path that climbs out of the repository: ``../shared``, and any ``../``
  chain (``../../data``) that leaves the repository when resolved from the file's
  folder (links in documents) or, in code and commands, also from the repository root.

Tutorials are cited by their titles (docs/tutorials.md); data folders come from
``--data DIR`` or ``$TAPEGRAD_DATA`` (docs/data.md).
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SELF = "tests/test_repository_text.py"

# (regex, what it is). Each regex is compiled case-insensitive; ``\s+`` lets a phrase
# run across a line break.
PHRASES: list[tuple[str, str]] = [
    (
        r"\b(the|this|that|an?|our|each|every|open|previous|earlier|later|next|performance"
        r"|engine|quality|gan|mnist)\s+issues?\b",
        "the project's issues",
    ),
    (r"\bissues?\s+#?\d+", "a numbered issue"),
    (r"\bissue's\b", "the issue's ..."),
    (
        r"\b(this|the|that|these|those|previous|first|second|third|next|earlier|later|one|a"
        r"|each|two-hour|helpers?'?)\s+sessions?\b",
        "a work session",
    ),
    (r"\bsessions?'s?\s+(work|jobs?|runs?|compute|budget|fast|printout|made)\b", "a session's"),
    (r"\bsessions\s+(made|of\s+work)\b", "sessions made"),
    (r"\bhelpers?'s?\s+(jobs?|work|branch(es)?|worktrees?|reports?)\b", "the helpers' jobs"),
    (r"\b(an?|the|another|other)\s+helpers?\s+(engineers?|agents?)\b", "a helper engineer"),
    (r"\blead(\s+engineer|'s)\b", "the lead engineer"),
    (
        r"\bseeds?('s|s'|')?\s+(articles?|tutorials?|documents?|texts?|examples?|recipes?"
        r"|models?|code|MNIST|MLP|CNN|DCGAN|GAN|GANs|sizes|losses)\b",
        "the seed tutorials",
    ),
    (r"\bthe\s+seeds?'?\s+\"", "the seed tutorials"),
    (r"\bSEEDS\.md\b", "a file outside the repository"),
    (r"\b(articles?|tutorials?)\s+00[0-4]\b", "a tutorial by its file number"),
    (r"\b00[0-4]\s*(§|problems?\b)", "a tutorial by its file number"),
]

# An absolute machine path: not part of a URL or of a longer path (``/usr/tmp/``).
# The folder names are joined at run time, so that this file itself never holds one
# and `git grep` for machine paths finds nothing in the repository.
_WORK, _ROOT = "/" + "work/", "/" + "root/"
MACHINE_PATHS: list[tuple[str, str]] = [
    (r"(?<![\w.:/~-])" + _WORK, "an absolute path of the development machine"),
    (r"(?<![\w.:/~-])" + _ROOT, "an absolute path of the development machine"),
    (r"(?<![\w.:/~-])/home/[A-Za-z_][\w.-]*", "a home folder of the development machine"),
    (r"(?<![\w.:/~-])/tmp/", "a data or workspace folder in /tmp"),
]

OUTSIDE_PATHS: list[tuple[str, str]] = [
    (r"(?<![\w.])\.\./+shared\b", "a folder outside the repository"),
]
# Links in documents resolve from the document's folder; paths in code and commands
# resolve from where they run, the repository root, as well.
_LINK_SUFFIXES = (".md", ".html", ".rst")

_RELATIVE = re.compile(r"(?<![\w./])((?:\.\./)+)[\w.-]*")


def _compile(pairs: list[tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(rx, re.IGNORECASE), what) for rx, what in pairs]


_CHECKS = _compile(PHRASES) + _compile(MACHINE_PATHS) + _compile(OUTSIDE_PATHS)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def find_problems(path: str, text: str) -> list[str]:
    """``path:line: what: 'match'`` for every forbidden phrase or path in ``text``.

    Args:
        path: the file's path relative to the repository root (POSIX separators); it
            resolves ``../`` chains against the file's folder.
        text: the file's contents.
    Returns:
        One string per hit, in file order for each check.
    """
    out = []
    for rx, what in _CHECKS:
        for m in rx.finditer(text):
            found = " ".join(m.group(0).split())
            out.append(f"{path}:{_line_of(text, m.start())}: {what}: {found!r}")
    folders = [posixpath.dirname(path)]
    if not path.endswith(_LINK_SUFFIXES):
        folders.append("")
    for m in _RELATIVE.finditer(text):
        targets = [posixpath.normpath(posixpath.join(f, m.group(0))) for f in folders]
        if any(t == ".." or t.startswith("../") for t in targets):
            out.append(
                f"{path}:{_line_of(text, m.start())}: a relative path leaving the "
                f"repository: {m.group(0)!r}"
            )
    return out


def _tracked_text_files() -> list[tuple[str, str]]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"git ls-files failed, not a git checkout: {e}")
    files = []
    for name in listed.decode().split("\0"):
        if not name or name == SELF or name.endswith(".json"):
            continue
        p = ROOT / name
        if not p.is_file():  # deleted in the work tree, not yet committed
            continue
        raw = p.read_bytes()
        if b"\0" in raw[:8192]:
            continue
        try:
            files.append((name, raw.decode("utf-8")))
        except UnicodeDecodeError:
            continue  # compressed or binary data without NUL bytes
    return files


def test_tracked_files_speak_to_users():
    files = _tracked_text_files()
    assert len(files) > 50, f"only {len(files)} text files found; is this the repository?"
    problems = [p for name, text in files for p in find_problems(name, text)]
    assert not problems, "text about how the project was made, or machine paths:\n" + (
        "\n".join(problems)
    )


@pytest.mark.parametrize(
    "text",
    [
        "Every ratio is within the issue's targets.",
        "This issue asks for 99 %.",
        "the performance issue's four workloads",
        "as issue 5 asks",
        "Before this session's work",
        "left for the next\nsession.",
        "shared with other helpers' jobs",
        "the lead engineer merges",
        "train the seed tutorial's MNIST GAN",
        "the seed article's sizes",
        "the seed's MLP GAN",
        "the seed CNN recipe",
        "The seed\n  articles name two uses",
        "see SEEDS.md",
        "article 002 losses",
        "004 problem 4",
        "python x.py --data " + _WORK + "shared/data/mnist",
        "cd " + _ROOT + "project",
        "ls /home/alice/data",
        "--json /tmp/quality/mlp.json",
        "--data ../shared/data/mnist",
        "see ../../notes.txt",
    ],
)
def test_detects_each_category(text):
    assert find_problems("docs/x.md", text), f"not flagged: {text!r}"


@pytest.mark.parametrize(
    "text",
    [
        "--seed 0 --seeds 3; each seed's folder; seeds the weights; mean over seeds",
        "warn: issue :class:`GradientWarning` when a gradient explodes",
        "from helpers import check_vs_torch  # shared test helpers",
        "lead = x.ndim - len(shape)",
        "https://example.com" + _WORK + "x and http://host/tmp/y",
        'for exe in ("/usr/bin/chromium", "/usr/tmp/x"): open("/dev/null")',
        "see [the engine](../docs/engine.md) and ./run.sh",
        "TAPEGRAD_DATA=DIR python examples/gan_gallery.py --data $TAPEGRAD_DATA",
        "the backpropagation tutorial's worked example",
    ],
)
def test_allows_ordinary_text(text):
    assert find_problems("benchmarks/README.md", text) == []


def test_relative_paths_resolved_from_the_file():
    assert find_problems("a/b/c.md", "[x](../../README.md)") == []  # a link inside
    assert find_problems("a/c.md", "[x](../../README.md)") != []
    assert find_problems("c.md", "[x](../README.md)") != []
    assert find_problems("a/b/c.py", "open('../../x')") != []  # run from the root
    assert any(":3:" in p for p in find_problems("docs/x.md", "a\nb\nsee ../shared/x"))
