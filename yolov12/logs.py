"""Diagnostics through ``logging``: progress at INFO, what was skipped or stopped at WARNING.

A module logs to ``logging.getLogger(__name__)`` (a child of ``yolov12``). Importing the package configures nothing:
the ``yolov12`` logger only gets a ``NullHandler`` (in ``yolov12/__init__.py``: the library convention, so that an
application that configures no logging is not sent our INFO lines), and the root logger is never touched. Only the
command line's entry point calls ``configure``, which gives the ``yolov12`` logger its own handler on stderr (stdout
stays the commands' product: a JSON result, a table, the paths written), at the level ``--quiet`` / ``--verbose``
chose.
"""

from __future__ import annotations

import logging
import sys

ROOT_NAME = "yolov12"
LEVELS = {"quiet": logging.WARNING, "normal": logging.INFO, "verbose": logging.DEBUG}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (a redirected or captured stderr included)."""

    _yolov12_cli = True  # ours to replace on a second configure()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ sets it; the property decides
        pass


class _Formatter(logging.Formatter):
    """INFO lines as they are (they were prints: job logs read the same); others say their level first."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno == logging.INFO else f"{record.levelname.lower()}: {text}"


def configure(level: int | str = "normal") -> logging.Handler:
    """Send the package's records at ``level`` (a LEVELS name or a logging level) and above to stderr; calling it
    again replaces the handler (one per process). For the command line's entry point only: a library user
    configures logging their own way. The root logger is left alone (records still propagate to it)."""
    logger = logging.getLogger(ROOT_NAME)
    for handler in [h for h in logger.handlers if getattr(h, "_yolov12_cli", False)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(LEVELS[level] if isinstance(level, str) else level)
    return handler
