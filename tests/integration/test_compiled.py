"""The compiled modules (scripts/compile.py, run by ``make install``) read and check every
fixture document exactly as their sources do interpreted, and are the ones in use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.compiled import INTERPRETED_ENV, MANIFEST
from tests.fixtures.snapshot import corpus

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "build" / "compiled"


def _snapshot(folder: Path, *, interpreted: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != INTERPRETED_ENV}
    if interpreted:
        env[INTERPRETED_ENV] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.snapshot", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _built_modules() -> set[str]:
    """Every module the manifests say was compiled."""
    names: set[str] = set()
    for manifest in BUILT.rglob(MANIFEST):
        package = ".".join(manifest.parent.relative_to(BUILT).parts)
        names.update(f"{package}.{name}" for name in json.loads(manifest.read_text(encoding="utf-8")))
    return names


@pytest.mark.slow
def test_compiled_modules_read_every_fixture_as_the_interpreter_does(tmp_path: Path) -> None:
    entries = corpus(tmp_path)
    compiled = _snapshot(tmp_path, interpreted=False)
    interpreted = _snapshot(tmp_path, interpreted=True)

    built = _built_modules()
    assert {"parsers.gate", "parsers.docx_layout", "parsers.docx_reader", "validators.rules.text"} <= built, (
        "no compiled build: run `make install` (scripts/compile.py)"
    )
    for name in built:
        assert compiled["modules"][name].startswith(str(BUILT)), f"{name} was not loaded from its compiled build"
        assert interpreted["modules"][name].endswith(".py"), f"{name} was compiled under {INTERPRETED_ENV}"

    assert len(compiled["results"]) == len(entries) >= 100
    mismatched = [key for key in compiled["results"] if compiled["results"][key] != interpreted["results"][key]]
    assert mismatched == []
