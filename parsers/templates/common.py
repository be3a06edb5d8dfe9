"""What the Word and Excel builders share: file names, pinned times, a reproducible zip.

Office packages written by python-docx and openpyxl carry the time of writing twice: in
each zip member's header and in ``docProps/core.xml``. ``repack`` rewrites both to
``PINNED_TIME`` so that a template built twice is byte for byte the same.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime

from core.catalogue import FormDef

#: the created/modified time every blank template carries (UTC)
PINNED_TIME = datetime(2026, 1, 1, 0, 0, 0)
_PINNED_ISO = PINNED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)

#: custom document property names (spec/forms.md "The blank templates")
PROP_TEMPLATE_ID = "TemplateId"
PROP_TEMPLATE_VERSION = "TemplateVersion"

_CORE_TIMES = re.compile(
    rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)",
)


def template_filename(form: FormDef) -> str:
    """``referral-2026.1.docx`` for a Word layout, ``chronology-2026.1.xlsx`` for a chronology."""
    extension = "xlsx" if form.form.layout == "chronology" else "docx"
    return f"{form.id}-{form.version}.{extension}"


def template_line(form: FormDef) -> str:
    """The line under the title naming the template: ``Template: referral version 2026.1``."""
    return f"Template: {form.id} version {form.version}"


def options_line(choices: tuple[str, ...]) -> str:
    """The options printed for people who type: ``Options: A / B / C``."""
    return "Options: " + " / ".join(choices)


def repack(data: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """The package with pinned member times and pinned core created/modified times.

    ``extra`` replaces (or adds) members by name. Member order is kept, with
    ``[Content_Types].xml`` first as Office writes it."""
    replacements = dict(extra or {})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        names = source.namelist()
        names.sort(key=lambda n: n != "[Content_Types].xml")
        added = [n for n in replacements if n not in names]
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for name in [*names, *added]:
                blob = replacements[name] if name in replacements else source.read(name)
                if name == "docProps/core.xml":
                    blob = _CORE_TIMES.sub(rb"\g<1>" + _PINNED_ISO.encode() + rb"\g<3>", blob)
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o600 << 16
                target.writestr(info, blob)
    return out.getvalue()
