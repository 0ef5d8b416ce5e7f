"""The --reload file filter and polling watcher, with an injected clock."""

from __future__ import annotations

import os

from daphne._process.reload import FileFilter, PollingWatcher


def test_filter_includes_excludes_and_skipped_directories() -> None:
    wanted = FileFilter(["*.py", "*.html"], ["*_test.py", "build"])
    assert wanted("app/views.py")
    assert wanted("templates/page.html")
    assert not wanted("app/views_test.py")
    assert not wanted("notes.txt")
    assert not wanted("build/app.py")
    assert not wanted("app/__pycache__/views.py")
    assert not wanted(".venv/lib/site.py")
    assert not wanted(".hidden/x.py")


def test_polling_watcher_sees_changes_new_and_removed_files(tmp_path) -> None:
    now = [0.0]
    (tmp_path / "a.py").write_text("a")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "b.py").write_text("b")
    watcher = PollingWatcher([str(tmp_path)], FileFilter(["*.py"], []), clock=lambda: now[0])
    now[0] += 1
    assert watcher() is False
    (tmp_path / "readme.txt").write_text("x")
    now[0] += 1
    assert watcher() is False
    path = tmp_path / "pkg" / "b.py"
    os.utime(path, (1, 1))
    assert watcher() is False  # not yet time to look again
    now[0] += 1
    assert watcher() is True
    now[0] += 1
    assert watcher() is False
    (tmp_path / "c.py").write_text("c")
    now[0] += 1
    assert watcher() is True
    (tmp_path / "a.py").unlink()
    now[0] += 1
    assert watcher() is True
