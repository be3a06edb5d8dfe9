"""The isolated runner returns results, re-raises errors, and survives hostile work."""

from __future__ import annotations

import io
import os
import signal
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest

from parsers.isolation import (
    IsolatedRunner,
    WorkerFailure,
    WorkerKilled,
    WorkerOutOfMemory,
    WorkerTimeout,
)
from tests.fixtures.hostile import build


class ReadError(Exception):
    pass


def behave(action: tuple[str, Any]) -> Any:
    """What the worker is asked to do (top-level, so the worker can unpickle it)."""
    kind, value = action
    if kind == "double":
        return value * 2
    if kind == "pid":
        return os.getpid()
    if kind == "raise":
        raise ReadError(value)
    if kind == "allocate":
        return len(bytearray(value * 1024 * 1024))
    if kind == "grow":  # 10 MB at a time, as a parser building a tree would
        chunks = [bytearray(10 * 1024 * 1024) for _ in range(value // 10)]
        return len(chunks)
    if kind == "sleep":
        time.sleep(value)
        return value
    if kind == "abort":
        os.abort()
    if kind == "calamine":
        import python_calamine

        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(value))
        return len(workbook.get_sheet_by_index(0).to_python())
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def runner() -> Iterator[IsolatedRunner[tuple[str, Any], Any]]:
    with IsolatedRunner(behave, memory_mb=300, timeout_s=5.0, imports=["lxml.etree", "python_calamine"]) as made:
        yield made


def test_the_runner_returns_the_result(runner: IsolatedRunner[tuple[str, Any], Any]) -> None:
    assert 42 == runner.run(("double", 21))


def test_the_same_worker_serves_successive_calls(runner: IsolatedRunner[tuple[str, Any], Any]) -> None:
    pids = {runner.run(("pid", None)) for _ in range(5)}
    assert {runner.pid} == pids
    assert os.getpid() not in pids


def test_an_exception_raised_by_fn_is_re_raised_in_the_parent(runner: IsolatedRunner[tuple[str, Any], Any]) -> None:
    with pytest.raises(ReadError, match="a bad cell") as raised:
        runner.run(("raise", "a bad cell"))
    assert "ReadError" in str(raised.value.__cause__)  # the worker's traceback


def test_an_exception_does_not_cost_the_worker(runner: IsolatedRunner[tuple[str, Any], Any]) -> None:
    before = runner.run(("pid", None))
    with pytest.raises(ReadError):
        runner.run(("raise", "again"))
    assert before == runner.run(("pid", None))


def test_a_normal_allocation_fits_under_the_cap(runner: IsolatedRunner[tuple[str, Any], Any]) -> None:
    assert 100 * 1024 * 1024 == runner.run(("allocate", 100))


@pytest.mark.parametrize("action", [("allocate", 2048), ("grow", 2048)])
def test_a_worker_allocating_2_gb_fails_and_the_next_call_works(
    runner: IsolatedRunner[tuple[str, Any], Any], action: tuple[str, int]
) -> None:
    with pytest.raises(WorkerFailure) as raised:
        runner.run(action)
    assert isinstance(raised.value, WorkerOutOfMemory | WorkerKilled)
    assert 8 == runner.run(("double", 4))


def test_a_call_past_its_timeout_is_killed_promptly_and_the_next_call_gets_a_new_worker(
    runner: IsolatedRunner[tuple[str, Any], Any],
) -> None:
    before = runner.run(("pid", None))
    start = time.perf_counter()
    with pytest.raises(WorkerTimeout):
        runner.run(("sleep", 30), timeout_s=0.5)
    assert time.perf_counter() - start < 1.0
    after = runner.run(("pid", None))
    assert before != after
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)


def test_a_worker_that_aborts_is_reported_as_killed(runner: IsolatedRunner[tuple[str, Any], Any]) -> None:
    with pytest.raises(WorkerKilled) as raised:
        runner.run(("abort", None))
    assert -signal.SIGABRT == raised.value.exitcode
    assert 6 == runner.run(("double", 3))


def test_the_2_cell_sheet_that_aborts_calamine_only_costs_the_worker(
    runner: IsolatedRunner[tuple[str, Any], Any],
) -> None:
    with pytest.raises(WorkerFailure) as raised:
        runner.run(("calamine", build("2-cell sheet A1 and XFD1048576")))
    assert "DOC-UNSAFE" == raised.value.rejection.rule
    assert 2 == runner.run(("double", 1))


def test_a_failure_carries_a_reason_for_a_practitioner(runner: IsolatedRunner[tuple[str, Any], Any]) -> None:
    with pytest.raises(WorkerTimeout) as raised:
        runner.run(("sleep", 30), timeout_s=0.2)
    assert "took far too long" in raised.value.rejection.reason


def test_a_small_call_costs_well_under_a_millisecond_or_two(runner: IsolatedRunner[tuple[str, Any], Any]) -> None:
    runner.run(("double", 1))
    timings = []
    for n in range(200):
        start = time.perf_counter()
        runner.run(("double", n))
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.002


def test_closing_the_runner_ends_its_worker() -> None:
    made = IsolatedRunner(behave, memory_mb=300, timeout_s=5.0)
    pid = made.run(("pid", None))
    made.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
