"""The form catalogue: every form version the partnership accepts, loaded from data.

``load_catalogue()`` reads ``forms/*.toml`` beside this file (or another directory) and
checks each file; a bad file fails loudly with ``CatalogueError`` naming it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from core.catalogue.schema import Column, Condition, FieldDef, FieldType, FormDef, FormInfo, Section
from core.errors import CatalogueError

__all__ = [
    "Catalogue",
    "Column",
    "Condition",
    "FieldDef",
    "FieldType",
    "FormDef",
    "FormInfo",
    "Section",
    "load_catalogue",
]


class Catalogue:
    """All form versions, newest first within a form id."""

    def __init__(self, forms: list[FormDef]) -> None:
        keys = [f.key for f in forms]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise CatalogueError(f"form versions defined twice: {dupes}")
        self._forms = sorted(forms, key=lambda f: (f.id, _version_key(f.version)), reverse=True)
        current: dict[str, FormDef] = {}
        for f in self._forms:
            if f.form.status == "current":
                if f.id in current:
                    raise CatalogueError(f"form {f.id} has two current versions")
                current[f.id] = f
        self._current = current

    def __iter__(self) -> Iterator[FormDef]:
        return iter(self._forms)

    def __len__(self) -> int:
        return len(self._forms)

    def get(self, form_id: str, version: str | None = None) -> FormDef:
        """A form version; the current one when ``version`` is None."""
        if version is None:
            try:
                return self._current[form_id]
            except KeyError:
                raise KeyError(form_id) from None
        for f in self._forms:
            if f.key == (form_id, version):
                return f
        raise KeyError((form_id, version))

    def find(self, form_id: str, version: str | None) -> FormDef | None:
        try:
            return self.get(form_id, version)
        except KeyError:
            return None

    def current(self) -> list[FormDef]:
        return [f for f in self._forms if f.form.status == "current"]

    def form_ids(self) -> list[str]:
        return sorted({f.id for f in self._forms})


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """Load and check every form file. Raises CatalogueError naming the bad file."""
    if directory is None:
        base = resources.files("core.catalogue").joinpath("forms")
        paths = sorted((p for p in base.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)
        texts = [(p.name, p.read_text(encoding="utf-8")) for p in paths]
    else:
        texts = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.toml"))]
    if not texts:
        raise CatalogueError("the form catalogue is empty: no forms/*.toml found")
    forms = [_parse(name, text) for name, text in texts]
    return Catalogue(forms)


def _parse(name: str, text: str) -> FormDef:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{name}: not valid TOML: {exc}") from exc
    try:
        form = FormDef.model_validate(data)
    except (ValidationError, ValueError) as exc:
        raise CatalogueError(f"{name}: {exc}") from exc
    expected = f"{form.id}-{form.version}.toml"
    if name != expected:
        raise CatalogueError(f"{name}: a form file must be named {expected}")
    return form
