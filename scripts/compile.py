"""Compile the modules that read and check a document with Cython, from their own source.

    .venv/bin/python scripts/compile.py          (make install runs it)

The modules in COMPILED are plain Python, checked by mypy and ruff like the rest. Cython
compiles them unchanged ("pure Python mode") into ``build/compiled/<package>/``, beside a
``manifest.json`` of each source's SHA-256. ``core.compiled.attach`` puts that folder ahead
of the package's own on its ``__path__`` only while every compiled module still matches its
source, so an edited module is never shadowed by an older build: it runs interpreted, with a
warning, until this script runs again. Setting ``INTAKE_INTERPRETED=1`` ignores the builds.

Only a module whose source changed is compiled again (all of them when this script or the
Cython version changed). Why these modules: reading and checking a Word form is a few
thousand short Python steps over lxml elements and the values read; compiled, the same steps
take about a tenth less time (bench/forms.py prints both: about 4.7 and 5.3 times the floor
of opening the zip and parsing the document).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from core.compiled import BUILD_SUFFIX, MANIFEST, build_folder, source_digest

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "compiled"
BUILD_KEY = "build-key"

#: the modules compiled: the Word reader's path from the gate to the quality checks
COMPILED = (
    "parsers.gate",
    "parsers.ooxml",
    "parsers.identify",
    "parsers.docx_layout",
    "parsers.docx_reader",
    "parsers.labels",
    "parsers.values",
    "validators.base",
    "validators.view",
    "validators.checklist",
    "validators.rules.fields",
    "validators.rules.text",
)


def source_of(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def folder_of(package: str) -> Path:
    """The package's build folder, where core.compiled looks for it."""
    return build_folder(package, ROOT.joinpath(*package.split(".")))


def _manifest(folder: Path) -> dict[str, str]:
    try:
        found = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def build_key() -> str:
    """What a build depends on besides its source: this script (its directives) and Cython."""
    return hashlib.sha256(Path(__file__).read_bytes() + version("cython").encode()).hexdigest()


def plan(modules: tuple[str, ...] = COMPILED) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(modules to compile, the manifest of each package folder once they are)."""
    try:
        same_build = (OUT / BUILD_KEY).read_text(encoding="utf-8") == build_key()
    except OSError:
        same_build = False
    todo: list[str] = []
    manifests: dict[str, dict[str, str]] = {}
    for module in modules:
        package, name = module.rsplit(".", 1)
        folder = folder_of(package)
        wanted = source_digest(source_of(module))
        if not same_build or _manifest(folder).get(name) != wanted or not (folder / (name + BUILD_SUFFIX)).exists():
            todo.append(module)
        manifests.setdefault(package, {})[name] = wanted
    return todo, manifests


def build(modules: list[str], jobs: int) -> None:
    """Compile ``modules`` into OUT (one shared object each, named for this interpreter)."""
    from Cython.Build import cythonize
    from setuptools import Extension, setup  # type: ignore[import-untyped]

    extensions = [
        Extension(module, [str(source_of(module).relative_to(ROOT))], extra_compile_args=["-Wno-unused-function"])
        for module in modules
    ]
    with tempfile.TemporaryDirectory(prefix="intake-compile-") as tmp:
        compiled = cythonize(  # type: ignore[no-untyped-call]
            extensions,
            build_dir=str(Path(tmp) / "c"),
            language_level=3,
            nthreads=jobs,
            quiet=True,
            # the interpreter's semantics: annotations are not read as C types (a float
            # annotation would otherwise turn an int argument into a C double)
            compiler_directives={"binding": True, "annotation_typing": False},
        )
        setup(
            name="intake-compiled",
            ext_modules=compiled,
            script_args=[
                "--quiet",
                "build_ext",
                "--build-lib",
                str(Path(tmp) / "lib"),
                "--build-temp",
                str(Path(tmp) / "o"),
                "--parallel",
                str(jobs),
            ],
        )
        # moved into place by rename, never written over: a running service keeps the
        # shared object it loaded (writing over a loaded one can crash it)
        for module in modules:
            package, name = module.rsplit(".", 1)
            target = folder_of(package) / (name + BUILD_SUFFIX)
            target.parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / "lib" / target.relative_to(OUT)).replace(target)


def _write(path: Path, text: str) -> None:
    """Replace ``path`` whole (a process starting meanwhile reads the old or the new one)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--clean", action="store_true", help="remove every build first")
    args = parser.parse_args(argv)
    if args.clean:
        shutil.rmtree(OUT, ignore_errors=True)
    todo, manifests = plan()
    if todo:
        print(f"compiling {len(todo)} of {len(COMPILED)} modules with Cython", flush=True)
        build(todo, args.jobs)
    for package, entries in manifests.items():
        folder = folder_of(package)
        folder.mkdir(parents=True, exist_ok=True)
        # anything but this interpreter's builds of the listed modules goes (core.compiled
        # would refuse the folder for a build it cannot vouch for)
        for stale in folder.iterdir():
            if stale.is_file() and stale.name != MANIFEST and stale.name.removesuffix(BUILD_SUFFIX) not in entries:
                stale.unlink()
        _write(folder / MANIFEST, json.dumps(entries, indent=1, sort_keys=True) + "\n")
    _write(OUT / BUILD_KEY, build_key())
    # a package folder none of whose modules is listed any more
    for manifest in OUT.rglob(MANIFEST):
        package = ".".join(manifest.parent.relative_to(OUT).parts)
        if package not in manifests:
            for stale in manifest.parent.iterdir():
                if stale.is_file():
                    stale.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
