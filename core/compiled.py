"""Use the compiled builds of a package's modules (scripts/compile.py), but only while they
match their sources.

A package that has compiled modules calls ``attach(__name__, __path__)`` first thing in its
``__init__``. When ``build/compiled/<package>/manifest.json`` names every shared object in
that folder and each one's source still has the SHA-256 the manifest gives, the folder goes
first on the package's ``__path__``, so ``import parsers.gate`` loads the compiled build;
modules that were not compiled are still found in the package's own folder. Otherwise the
package runs interpreted and a warning says to compile again: an edited module is never
shadowed by a build of its older source. ``INTAKE_INTERPRETED=1`` ignores the builds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: set (to anything but "" or "0") to run every module interpreted
INTERPRETED_ENV = "INTAKE_INTERPRETED"
#: the name a build of a module gets for this interpreter (the first the import system tries)
BUILD_SUFFIX = EXTENSION_SUFFIXES[0]


def source_digest(path: Path) -> str:
    """What a manifest records of a module's source: its SHA-256 (hex)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _module_of(filename: str) -> str | None:
    """The module a file in a build folder would be imported as (any suffix the import
    system loads: a stray ``x.so`` would be imported as ``x`` too); None for other files."""
    for suffix in EXTENSION_SUFFIXES:
        if filename.endswith(suffix):
            return filename.removesuffix(suffix)
    return None


def build_folder(package: str, source: Path) -> Path:
    """Where scripts/compile.py puts ``package``'s builds: ``build/compiled/<package>``
    under the project root (the folder holding the top-level package)."""
    root = source.parents[package.count(".")]
    return root.joinpath("build", "compiled", *package.split("."))


def attach(package: str, path: list[str]) -> bool:
    """Put ``package``'s compiled builds first on its ``path`` when they are current."""
    if os.environ.get(INTERPRETED_ENV, "") not in ("", "0") or not path:
        return False
    source = Path(path[0])
    folder = build_folder(package, source)
    reason = stale_reason(folder, source)
    if reason is None:
        path.insert(0, str(folder))
        return True
    if reason:
        log.warning("%s runs interpreted: %s; run `make` to compile it again", package, reason)
    return False


def stale_reason(folder: Path, source: Path) -> str | None:
    """None when ``folder`` holds current builds of modules in ``source``; "" when it holds
    none at all; otherwise why they may not be used."""
    try:
        built = [name for p in folder.iterdir() if (name := _module_of(p.name)) is not None]
    except OSError:
        return ""
    if not built:
        return ""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "its compiled modules have no readable manifest"
    if not isinstance(manifest, dict):
        return "its compiled modules have no readable manifest"
    for name in sorted(built):
        expected = manifest.get(name)
        try:
            actual = source_digest(source / f"{name}.py")
        except OSError:
            return f"{name} was compiled but its source is gone"
        if expected != actual:
            return f"{name} changed after it was compiled"
    return None
