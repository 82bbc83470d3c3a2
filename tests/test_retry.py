"""One retry helper (yolov12.retry): attempts, a transient predicate by type, waits, and the last failure raised as
it came; the MLflow store's predicate against a real SQLite store that another writer holds locked."""

from __future__ import annotations

import sqlite3

import pytest

from yolov12.retry import call, caused_by, exponential


class Passing(Exception):
    pass


class Flaky:
    """Fails ``failures`` times with ``error`` (a fresh one each time), then returns its arguments."""

    def __init__(self, failures: int, error=Passing):
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return args, kwargs


def passing(e: BaseException) -> bool:
    return isinstance(e, Passing)


def test_passing_failures_are_retried_with_the_waits_asked():
    fn, seen, waits = Flaky(2), [], []
    out = call(fn, 1, attempts=3, transient=passing, key="v", on_retry=lambda n, e: seen.append((n, str(e))),
               wait=lambda n, e: waits.append(n) or 0.0)
    assert out == ((1,), {"key": "v"}) and fn.calls == 3
    assert seen == [(1, "failure 1"), (2, "failure 2")] and waits == [1, 2]


def test_the_last_failure_and_other_failures_are_raised_unchanged():
    fn = Flaky(5)
    with pytest.raises(Passing, match="failure 3"):
        call(fn, attempts=3, transient=passing, wait=lambda n, e: 0.0)
    assert fn.calls == 3
    other = Flaky(5, error=KeyError)
    with pytest.raises(KeyError):
        call(other, attempts=3, transient=passing, wait=lambda n, e: 0.0)
    assert other.calls == 1  # not passing: no second try
    with pytest.raises(ValueError, match="attempts"):
        call(fn, attempts=0, transient=passing, wait=lambda n, e: 0.0)


def test_exponential_waits_double_up_to_the_cap():
    wait = exponential(0.1, 0.4)
    assert [wait(n, Passing()) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.4, 0.4, 0.4])
    jittered = exponential(1.0, 8.0, jitter=True)
    assert all(2 ** (n - 1) <= jittered(n, Passing()) < 2 ** n for n in range(1, 4))


def test_caused_by_walks_the_chain():
    try:
        try:
            raise sqlite3.OperationalError("inner")
        except sqlite3.OperationalError as inner:
            raise RuntimeError("wrapper") from inner
    except RuntimeError as e:
        assert isinstance(caused_by(e, (sqlite3.OperationalError,)), sqlite3.OperationalError)
        assert caused_by(e, (KeyError,)) is None


@pytest.mark.slow
def test_a_locked_sqlite_store_is_busy_and_retried(tmp_path):
    """Another writer holds the store's database: MLflow's failure is passing (by its type), a later call succeeds;
    a real error of the store (a duplicate experiment) is not passing."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from yolov12.workflow import tracking

    db = tmp_path / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    client.create_experiment("first")  # creates the schema
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer, mid-transaction
    with pytest.raises(MlflowException) as locked:
        client.create_experiment("second")
    holder.execute("ROLLBACK")
    holder.close()
    assert tracking.store_is_busy(locked.value)
    assert tracking.retry(client.create_experiment, "second")
    with pytest.raises(MlflowException) as duplicate:
        tracking.retry(client.create_experiment, "second")
    assert not tracking.store_is_busy(duplicate.value)
