"""Hostile attachments through the real command: a clear finding each, never a traceback.

All of them are checked by one `intake check --json` run, the way the service sees a stream of
attachments: the gate first, then one reused worker with its limits, replaced when a file
kills it. How long each file costs and the peak memory of the checker and its worker are
shown by bench/forms.py; the worker's memory cap by tests/unit/test_isolation.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.hostile import HOSTILE

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path_factory.mktemp("hostile")
    paths = []
    for name, (build, _rule, filename) in sorted(HOSTILE.items()):
        (out / name).mkdir()
        path = out / name / filename
        path.write_bytes(build())
        paths.append(str(path))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "intake.cli",
            "check",
            "--json",
            "--received",
            "2026-11-28",
            *paths,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    results = json.loads(done.stdout) if done.stdout.strip() else []
    by_name = {Path(p).parent.name: r for p, r in zip(paths, results, strict=False)}
    return done, by_name


def test_the_command_reports_findings_and_no_traceback(
    run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    done, by_name = run

    assert "Traceback" not in done.stderr
    assert 1 == done.returncode, done.stderr
    assert sorted(HOSTILE) == sorted(by_name)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_gets_its_one_clear_finding(
    run: tuple[subprocess.CompletedProcess[str], dict[str, Any]], name: str
) -> None:
    _build, rule, _filename = HOSTILE[name]
    checked = run[1][name]

    assert [rule] == [f["rule"] for f in checked["findings"]]
    assert checked["form"] is None
    assert checked["findings"][0]["message"]
