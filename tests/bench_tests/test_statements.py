"""The statement hook times each statement and keeps the slowest."""

from __future__ import annotations

import types

import pytest

from bench import statements
from bench.statements import StatementTimer

pytestmark = [pytest.mark.bench]


class FakeClock:
    """A clock that moves only when a statement "takes" time: timings exact under any load."""

    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now

    monotonic = perf_counter


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(statements, "time", types.SimpleNamespace(
        perf_counter=fake.perf_counter, monotonic=fake.monotonic))
    return fake


@pytest.fixture
def _execute_sleeping(clock):
    def execute(sql, params, many, context):
        clock.now += params[0]
        return "result"
    return execute


def test_statement_timer_counts_every_statement_and_finds_the_longest(_execute_sleeping):
    timer = StatementTimer(keep=2)
    for seconds in (0.001, 0.03, 0.002, 0.01):
        assert timer(_execute_sleeping, f"DELETE /* {seconds} */", (seconds,), False, {}) == "result"
    assert timer.count == 4
    assert timer.longest == pytest.approx(0.03)
    assert [entry["sql"] for entry in timer.slowest] == ["DELETE /* 0.03 */", "DELETE /* 0.01 */"]


def test_statement_timer_times_a_statement_that_raises():
    timer = StatementTimer()

    def failing(sql, params, many, context):
        raise RuntimeError("lock timeout")

    with pytest.raises(RuntimeError):
        timer(failing, "UPDATE t SET x = 1", (), False, {})
    assert timer.count == 1


def test_statement_timer_times_a_commit_as_a_statement_and_counts_kinds(
    clock, _execute_sleeping
):
    timer = StatementTimer()

    def commit():
        clock.now += 0.02
        return "committed"

    assert timer.wrap_transaction_end(commit, "COMMIT")() == "committed"
    timer(_execute_sleeping, "SELECT 1", (0.0,), False, {})
    assert timer.count == 2
    assert timer.slowest[0]["sql"] == "COMMIT"
    assert timer.slowest[0]["index"] == 1
    assert timer.longest == pytest.approx(0.02)
    assert dict(timer.kinds) == {"COMMIT": 1, "SELECT": 1}
