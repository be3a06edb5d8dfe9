"""The blank templates agencies download, built from the catalogue.

``build_template(form)`` gives (file name, bytes): a .docx for a word-layout form, a .xlsx
for a chronology. ``build_all(catalogue, directory)`` writes every current form's template.
Built templates are reproducible: the same form gives the same bytes (times are pinned).
See word.py and excel.py for the layout a reader can rely on.
"""

from __future__ import annotations

from pathlib import Path

from core.catalogue import Catalogue, FormDef
from parsers.templates.common import PROP_TEMPLATE_ID, PROP_TEMPLATE_VERSION, template_filename
from parsers.templates.excel import build_excel
from parsers.templates.word import build_word

__all__ = [
    "PROP_TEMPLATE_ID",
    "PROP_TEMPLATE_VERSION",
    "build_all",
    "build_template",
    "template_filename",
]


def build_template(form: FormDef) -> tuple[str, bytes]:
    """The blank template of one form version: (file name, bytes)."""
    data = build_excel(form) if form.form.layout == "chronology" else build_word(form)
    return template_filename(form), data


def build_all(catalogue: Catalogue, directory: Path) -> list[Path]:
    """Write the template of every current form into ``directory``; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for form in catalogue.current():
        name, data = build_template(form)
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written
