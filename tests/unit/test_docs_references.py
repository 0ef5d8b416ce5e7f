"""Every ``tests/...`` path named in daphne/, docs/ or README.rst exists.

Module docstrings name the test modules that cover them (the guide's variant of
Twisted's ``test-case-name``); when tests move or are renamed those names drift.
This finds each ``tests/`` path in the package's source (docstrings and comments),
in ``docs/`` and in the README, and checks that the file or folder is there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: A path under tests/, up to the first character that cannot be part of one.
TEST_PATH = re.compile(r"(?<![\w/.-])tests/[\w./-]*[\w/]")

#: Named but missing, in a module whose docstring another change is fixing. An entry
#: that exists by now fails the test too: take it out of this list then.
KNOWN_MISSING: set[tuple[str, str]] = set()


def documents() -> Iterator[str]:
    """The files searched, relative to the repository root."""
    yield "README.rst"
    for top, suffixes in (("daphne", (".py",)), ("docs", (".md", ".rst", ".txt"))):
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(name for name in dirs if name != "__pycache__")
            for name in sorted(files):
                if name.endswith(suffixes):
                    yield os.path.relpath(os.path.join(folder, name), ROOT)


def references() -> set[tuple[str, str]]:
    """Each (document, tests/ path) pair."""
    found = set()
    for document in documents():
        with open(os.path.join(ROOT, document), encoding="utf-8") as handle:
            text = handle.read()
        for match in TEST_PATH.finditer(text):
            found.add((document, match.group().rstrip("/.")))
    return found


def test_the_search_finds_the_references() -> None:
    """The search sees docstring references (so an empty result cannot pass silently)."""
    found = references()
    assert ("daphne/_asgi/application.py", "tests/unit/test_application.py") in found
    assert ("daphne/management/commands/runserver.py", "tests/django") in found
    assert len(found) > 30


def test_named_test_paths_exist() -> None:
    """Every tests/ path named in the package, the docs and the README is a real file
    or folder (apart from KNOWN_MISSING, being fixed elsewhere)."""
    missing = {ref for ref in references() if not os.path.exists(os.path.join(ROOT, ref[1]))}
    assert sorted(missing - KNOWN_MISSING) == [], "named but missing"
    assert sorted(KNOWN_MISSING - missing) == [], "exist now: take them out of KNOWN_MISSING"
