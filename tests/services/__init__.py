"""Real servers started by the test suite itself on 127.0.0.1 (design/test-services.md)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(what: str, reason: str) -> NoReturn:
    """A server or tool the tests need is missing: with CI set this FAILS the run (a missing
    service must never pass silently there); elsewhere the test is skipped with the reason."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required (CI is set: a missing service fails the run): {reason}", pytrace=False)
    pytest.skip(f"{what} is not available outside CI: {reason}")
