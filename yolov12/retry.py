"""One way to retry a call that can fail for a passing reason (tenacity underneath): how many attempts, which
failures are passing (a predicate on the exception, by type: never by the words of its message), how long to wait
before the next attempt, and what to say meanwhile. The last failure is raised as it came.

Used by the MLflow store's writes (yolov12.workflow.tracking) and the COCO download (yolov12.data.coco.download).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

import tenacity

T = TypeVar("T")


def exponential(base_s: float, cap_s: float, jitter: bool = False) -> Callable[[int, BaseException], float]:
    """Waits base, 2 x base, 4 x base, ... up to cap (seconds) after attempt 1, 2, 3, ...; ``jitter`` multiplies each
    by a random factor in [1, 2) so that writers that collided do not collide again in step."""

    def wait(attempt: int, _error: BaseException) -> float:
        seconds = min(cap_s, base_s * 2 ** (attempt - 1))
        return seconds * (1 + random.random()) if jitter else seconds

    return wait


def call(fn: Callable[..., T], *args: Any, attempts: int, transient: Callable[[BaseException], bool],
         wait: Callable[[int, BaseException], float], on_retry: Callable[[int, BaseException], None] | None = None,
         **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, tried up to ``attempts`` times while it raises an exception ``transient`` accepts.

    ``wait(attempt, error)``: seconds before the next try; ``on_retry(attempt, error)``: called before that wait.
    A failure that is not transient, or the last one, is raised unchanged."""
    if attempts < 1:
        raise ValueError(f"attempts = {attempts}; allowed: integers >= 1")

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None:
            on_retry(state.attempt_number, state.outcome.exception())

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts), retry=tenacity.retry_if_exception(transient),
        wait=lambda state: wait(state.attempt_number, state.outcome.exception()), before_sleep=before_sleep,
        reraise=True)
    return retrying(fn, *args, **kwargs)


def caused_by(error: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``types`` in ``error``'s chain (itself, then what it was raised from or during):
    libraries wrap the failure that says what happened (MLflow wraps SQLAlchemy's and requests')."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, types):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
