"""core.compiled: a package's compiled builds are used only while they match their sources."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from core.compiled import BUILD_SUFFIX as SUFFIX
from core.compiled import INTERPRETED_ENV, attach, build_folder, stale_reason


def _project(tmp_path: Path, sources: dict[str, str], built: dict[str, str]) -> tuple[Path, Path]:
    """A project with package ``pkg.sub`` holding ``sources``, and a build of the modules in
    ``built`` (module -> the source text it was compiled from)."""
    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    for name, text in sources.items():
        (package / f"{name}.py").write_text(text, encoding="utf-8")
    folder = build_folder("pkg.sub", package)
    folder.mkdir(parents=True)
    manifest = {}
    for name, text in built.items():
        (folder / f"{name}{SUFFIX}").write_bytes(b"\x7fELF")
        manifest[name] = hashlib.sha256(text.encode()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return package, folder


def test_the_build_folder_is_under_the_project_root(tmp_path: Path) -> None:
    assert build_folder("pkg.sub", tmp_path / "pkg" / "sub") == tmp_path / "build" / "compiled" / "pkg" / "sub"
    assert build_folder("pkg", tmp_path / "pkg") == tmp_path / "build" / "compiled" / "pkg"


def test_current_builds_go_first_on_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INTERPRETED_ENV, raising=False)
    package, folder = _project(tmp_path, {"a": "A = 1\n", "b": "B = 2\n"}, {"a": "A = 1\n"})
    path = [str(package)]
    assert attach("pkg.sub", path) is True
    assert path == [str(folder), str(package)]


def test_an_edited_source_runs_interpreted_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(INTERPRETED_ENV, raising=False)
    package, _ = _project(tmp_path, {"a": "A = 1\n", "b": "B = 3\n"}, {"a": "A = 1\n", "b": "B = 2\n"})
    path = [str(package)]
    with caplog.at_level(logging.WARNING, logger="core.compiled"):
        assert attach("pkg.sub", path) is False
    assert path == [str(package)]
    assert "b changed after it was compiled" in caplog.text
    assert "make" in caplog.text


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("no manifest", "no readable manifest"),
        ("unlisted build", "changed after it was compiled"),
        ("source gone", "its source is gone"),
        ("stray .so", "changed after it was compiled"),
    ],
)
def test_builds_that_cannot_be_vouched_for_are_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, reason: str
) -> None:
    monkeypatch.delenv(INTERPRETED_ENV, raising=False)
    package, folder = _project(tmp_path, {"a": "A = 1\n"}, {"a": "A = 1\n"})
    if damage == "no manifest":
        (folder / "manifest.json").unlink()
    elif damage == "unlisted build":
        (folder / f"extra{SUFFIX}").write_bytes(b"\x7fELF")
        (package / "extra.py").write_text("X = 1\n", encoding="utf-8")
    elif damage == "stray .so":  # a name the import system loads too, though it is not the build's
        (folder / "extra.so").write_bytes(b"\x7fELF")
        (package / "extra.py").write_text("X = 1\n", encoding="utf-8")
    else:
        (package / "a.py").unlink()
    found = stale_reason(folder, package)
    assert found is not None and reason in found
    path = [str(package)]
    assert attach("pkg.sub", path) is False
    assert path == [str(package)]


def test_no_build_at_all_is_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(INTERPRETED_ENV, raising=False)
    package = tmp_path / "pkg"
    package.mkdir()
    path = [str(package)]
    with caplog.at_level(logging.WARNING, logger="core.compiled"):
        assert attach("pkg", path) is False
    assert path == [str(package)] and caplog.text == ""


def test_the_interpreted_switch_ignores_current_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package, _ = _project(tmp_path, {"a": "A = 1\n"}, {"a": "A = 1\n"})
    monkeypatch.setenv(INTERPRETED_ENV, "1")
    path = [str(package)]
    assert attach("pkg.sub", path) is False
    assert path == [str(package)]
    monkeypatch.setenv(INTERPRETED_ENV, "0")
    assert attach("pkg.sub", path) is True
