"""Logs are JSON lines that name where an error happened, never what it said."""

from __future__ import annotations

import json
import logging

from intake.logs import JsonFormatter


def record_of(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except type(exc):
        import sys

        return logging.LogRecord(
            "intake.pipeline", logging.ERROR, __file__, 1, "processing fault on message %s", (7,), sys.exc_info()
        )


def test_an_exception_is_logged_by_its_type_and_place_not_its_message() -> None:
    line = JsonFormatter().format(record_of(ValueError("Child's name Ellis Quinnell is not a date")))

    entry = json.loads(line)
    assert ("ValueError", "processing fault on message 7") == (entry["error"], entry["event"])
    assert "Ellis" not in line
    assert entry["where"][-1].endswith(":record_of")
