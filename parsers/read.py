"""bytes -> Document: the gate first, then the Word or Excel reader.

This runs inside the isolated worker (see parsers.isolation); it never raises for a bad file:
an unreadable or unsafe one comes back as a Document with a ``rejection``.

The gate hands the Word reader the parts it reads (word/document.xml, the custom
properties), already decompressed while their prologs were checked, so a Word file's zip is
opened once.
"""

from __future__ import annotations

import gc

from core.model import Document, Rejection
from core.settings import FormsContext
from parsers import gate
from parsers.docx_reader import DOCX_PARTS, read_docx
from parsers.xlsx_reader import read_xlsx

_KEEP: dict[gate.Media, tuple[str, ...]] = {"docx": DOCX_PARTS}


def read_document(data: bytes, filename: str, ctx: FormsContext) -> Document:
    verdict = gate.inspect(data, filename, ctx.limits, keep=_KEEP)
    if verdict.rejection is not None or verdict.media is None:
        rejection = verdict.rejection or Rejection(rule="DOC-UNREADABLE", reason="not a Word or Excel file")
        return Document(filename=filename, rejection=rejection)
    if verdict.media == "docx":
        # Reading a Word form builds a few thousand short-lived objects (lxml's element
        # proxies, the layout) and no reference cycles: a collection in the middle of it
        # would only walk the layout being built, which is gone by the time read_docx
        # returns. The collector is paused for the read (as validators.checklist pauses it
        # for a check) and left as it was found.
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return read_docx(data, filename, ctx, parts=verdict.parts)
        finally:
            if paused:
                gc.enable()
    return read_xlsx(data, filename, ctx)
