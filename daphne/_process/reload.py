"""``--reload``: notice when watched source files change.

:func:`watcher` returns a function the supervisor calls from its loop; it
answers True once per batch of changes.  With the optional ``watchfiles``
package installed (``pip install daphne[reload]``) the operating system's
file notifications are used, from a background thread; otherwise the watched
directories are scanned for changed modification times twice a second.

Files match when their name matches one of the ``include`` globs and neither
their name nor any directory on their path matches an ``exclude`` glob;
hidden directories, ``__pycache__`` and virtual environments are skipped.

Covered by ``tests/unit/test_reload_watch.py`` and ``tests/integration/test_reload.py``.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

logger = logging.getLogger("daphne.reload")

__all__ = ["FileFilter", "PollingWatcher", "watcher"]

_ALWAYS_SKIPPED = ("__pycache__", ".git", ".hg", ".tox", ".venv", "venv", "node_modules")
_POLL_INTERVAL = 0.5


class FileFilter:
    """Which paths ``--reload`` watches."""

    def __init__(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        self.include = list(include)
        self.exclude = list(exclude)

    def skip_dir(self, name: str) -> bool:
        return (
            name in _ALWAYS_SKIPPED
            or (name.startswith(".") and name not in (".", ".."))
            or any(fnmatch.fnmatch(name, pattern) for pattern in self.exclude)
        )

    def __call__(self, path: str) -> bool:
        parts = Path(path).parts
        if any(self.skip_dir(part) for part in parts[:-1]):
            return False
        name = parts[-1] if parts else ""
        if any(fnmatch.fnmatch(name, pattern) for pattern in self.exclude):
            return False
        return any(fnmatch.fnmatch(name, pattern) for pattern in self.include)


class PollingWatcher:
    """Scans the directories for changed, new or removed files (bounded: twice a second)."""

    def __init__(
        self,
        directories: Iterable[str],
        wanted: FileFilter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directories = [os.path.abspath(directory) for directory in directories]
        self.wanted = wanted
        self.clock = clock
        self._snapshot = self._scan()
        self._next = clock() + _POLL_INTERVAL

    def _scan(self) -> dict[str, float]:
        seen: dict[str, float] = {}
        for root in self.directories:
            for folder, dirs, files in os.walk(root):
                dirs[:] = [name for name in dirs if not self.wanted.skip_dir(name)]
                for name in files:
                    path = os.path.join(folder, name)
                    if self.wanted(os.path.relpath(path, root)):
                        try:
                            seen[path] = os.stat(path).st_mtime_ns
                        except OSError:
                            pass
        return seen

    def __call__(self) -> bool:
        if self.clock() < self._next:
            return False
        self._next = self.clock() + _POLL_INTERVAL
        snapshot = self._scan()
        changed = sorted(
            path
            for path in snapshot.keys() | self._snapshot.keys()
            if snapshot.get(path) != self._snapshot.get(path)
        )
        self._snapshot = snapshot
        if changed:
            logger.info("Changed: %s", ", ".join(changed[:5]) + (" ..." if changed[5:] else ""))
        return bool(changed)


class _NotifyingWatcher:
    """``watchfiles`` in a daemon thread; the supervisor polls a flag."""

    def __init__(self, directories: Sequence[str], wanted: FileFilter) -> None:
        import watchfiles

        self._changed = threading.Event()
        roots = [os.path.abspath(directory) for directory in directories]

        def keep(change: object, path: str) -> bool:
            return any(
                path.startswith(os.path.join(root, "")) and wanted(os.path.relpath(path, root))
                for root in roots
            )

        def run() -> None:
            for changes in watchfiles.watch(*roots, watch_filter=keep, raise_interrupt=False):
                paths = sorted(path for _, path in changes)
                logger.info("Changed: %s", ", ".join(paths[:5]) + (" ..." if paths[5:] else ""))
                self._changed.set()

        threading.Thread(target=run, name="daphne-reload", daemon=True).start()

    def __call__(self) -> bool:
        if self._changed.is_set():
            self._changed.clear()
            return True
        return False


def watcher(
    directories: Sequence[str], include: Sequence[str], exclude: Sequence[str]
) -> Callable[[], bool]:
    """A function answering whether watched files changed since it last said so."""
    wanted = FileFilter(include, exclude)
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        logger.info("Watching %s for changes (polling)", ", ".join(directories))
        return PollingWatcher(directories, wanted)
    logger.info("Watching %s for changes (watchfiles)", ", ".join(directories))
    return _NotifyingWatcher(directories, wanted)
