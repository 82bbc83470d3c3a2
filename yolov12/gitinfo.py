"""The suite's git commit, for provenance (MLflow tags, latency environments, the report header)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit(mark_dirty: bool = False) -> str | None:
    """HEAD of the checkout the package runs from (None outside a git checkout); with ``mark_dirty``, say when
    tracked files have uncommitted changes."""
    commit = _git("rev-parse", "HEAD") or None
    if commit and mark_dirty and _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return commit
