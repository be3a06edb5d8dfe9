"""Shared by the end-to-end tests: running `intake` as a person does, and writing its config.

intake_command()                  -> argv prefix: the installed `intake` script
write_config(path, sections)      -> a config.toml with those sections and the test agencies
clean_environment(**extra)        -> os.environ without INTAKE_* settings, plus ``extra``
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.fixtures.sample import FIXTURE_AGENCIES

REPO = Path(__file__).resolve().parents[2]


def intake_command() -> list[str]:
    """The `intake` console script beside this Python (else ``python -m intake.cli``)."""
    script = Path(sys.executable).with_name("intake")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "intake.cli"]


def clean_environment(**extra: str) -> dict[str, str]:
    """The environment without any INTAKE_* variable of the caller's (config, keys, passwords,
    the crash harness), with the repository importable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string


def write_config(path: Path, sections: dict[str, dict[str, Any]], *, agencies: bool = True) -> Path:
    """``[name]`` tables (dotted names for sub-tables, "imap.oauth2"), then ``[[agencies]]``:
    the test registry of tests/fixtures/sample.py (FIXTURE_AGENCIES), as an operator writes it."""
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml(v)}" for key, v in values.items()]
        lines.append("")
    for agency in FIXTURE_AGENCIES.agencies if agencies else ():
        lines += [
            "[[agencies]]",
            f"id = {_toml(agency.id)}",
            f"name = {_toml(agency.name)}",
            f"aliases = {_toml(agency.aliases)}",
            f"domains = {_toml(agency.domains)}",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
