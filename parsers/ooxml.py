"""Small helpers shared by the Word and Excel readers: namespaces, custom properties."""

from __future__ import annotations

import zipfile

from lxml import etree

NS_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
NS_VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
CUSTOM_PROPERTIES_PART = "docProps/custom.xml"

#: a parser for untrusted XML: no entities, no DTD, no network, no huge trees
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def custom_properties(zf: zipfile.ZipFile) -> dict[str, str]:
    """The custom document properties (docProps/custom.xml) as name -> text; {} if none."""
    try:
        raw = zf.read(CUSTOM_PROPERTIES_PART)
    except KeyError:
        return {}
    return parse_custom_properties(raw)


def parse_custom_properties(raw: bytes) -> dict[str, str]:
    """The custom document properties in the bytes of docProps/custom.xml; {} if unreadable."""
    try:
        root = etree.fromstring(raw, SAFE_PARSER)
    except etree.XMLSyntaxError:
        return {}
    found: dict[str, str] = {}
    for prop in root.iterchildren(f"{{{NS_CUSTOM}}}property"):
        name = prop.get("name")
        if not name:
            continue
        text = "".join(child.text or "" for child in prop)
        found[name] = text.strip()
    return found
