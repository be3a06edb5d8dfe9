"""Bytes -> Document: the gate, the Word and Excel readers, the isolated worker."""

from core.compiled import attach

# before any module of the package is imported: their compiled builds, when current
attach(__name__, __path__)
