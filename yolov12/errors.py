"""User errors: one line that names the file, the key, what is wrong and what is allowed.

Every command and the workflow report bad input as

    error: <file>: <key>: <what is wrong>; allowed: <what is allowed>

with exit status 2 and no traceback (``--debug`` or ``YOLOV12_DEBUG=1`` shows it). Library errors (Ultralytics,
torch, OpenCV, YAML) are translated into a ``UserError`` at the boundary where we know which file and key they
concern; ``main_guard`` is that boundary for the command line. This module imports nothing heavy.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

EXIT_USER = 2  # bad input
EXIT_INTERNAL = 1  # a bug or an environment failure that is not the input's fault


class UserError(ValueError):
    """Bad input. ``UserError("what")`` or ``UserError("what", file=..., key=..., allowed=[...])``."""

    def __init__(self, what: str, *, file: Any = None, key: str | None = None, allowed: Any = None):
        self.what, self.file, self.key, self.allowed = what, file, key, allowed
        super().__init__(self.line())

    def line(self) -> str:
        parts = [str(p) for p in (self.file, self.key) if p not in (None, "")]
        text = ": ".join([*parts, self.what])
        if self.allowed is not None:
            allowed = self.allowed
            if isinstance(allowed, Iterable) and not isinstance(allowed, str):
                allowed = ", ".join(str(a) for a in allowed)
            text += f"; allowed: {allowed}"
        return " ".join(text.split())  # one line, whatever the pieces held

    def __str__(self) -> str:
        return self.line()


def debug_requested(argv: list[str] | None = None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    return "--debug" in argv or os.environ.get("YOLOV12_DEBUG", "") not in ("", "0", "false", "False")


def one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return " ".join(text.split())


def main_guard(fn: Callable[[], int | None], argv: list[str] | None = None, prog: str = "yolov12") -> int:
    """Run a command: a ``UserError`` prints one line and returns 2; anything else prints one line and returns 1.

    With ``--debug`` / ``YOLOV12_DEBUG=1`` the traceback is printed too.
    """
    debug = debug_requested(argv)
    try:
        return int(fn() or 0)
    except UserError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {e.line()}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001  (the boundary: never a traceback unless asked for)
        if debug:
            traceback.print_exc()
        print(f"error: {prog}: internal error: {type(e).__name__}: {one_line(e)} (run with --debug for the "
              f"traceback)", file=sys.stderr)
        return EXIT_INTERNAL
