"""The agency registry: ids, names, aliases and sender domains, from config.toml."""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

_NON_WORD = re.compile(r"[^a-z0-9]+")


def _key(text: str) -> str:
    text = text.replace("\u2019", "'").replace("&", " and ").lower()
    return _NON_WORD.sub(" ", text.replace("'", "")).strip()


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()


class AgencyRegistry(BaseModel):
    model_config = ConfigDict(frozen=True)

    agencies: tuple[Agency, ...] = Field(default_factory=tuple)

    def get(self, agency_id: str) -> Agency | None:
        for a in self.agencies:
            if a.id == agency_id:
                return a
        return None

    @cached_property
    def _by_key(self) -> dict[str, str | None]:
        """Every spelling (id, name, alias) as a key -> the agency id; None when two agencies
        share a spelling, so that an ambiguous text is never guessed."""
        table: dict[str, str | None] = {}
        for a in self.agencies:
            for spelling in (a.id, a.id.replace("_", " "), a.name, *a.aliases):
                key = _key(spelling)
                if key:
                    table[key] = a.id if table.get(key, a.id) == a.id else None
        return table

    def match(self, text: str) -> str | None:
        """The id of the agency named by ``text`` (its id, name or an alias), or None.

        Matching ignores case, punctuation and spacing; an ambiguous text gives None."""
        return self._by_key.get(_key(text))

    def by_domain(self, domain: str) -> list[Agency]:
        domain = domain.lower().rstrip(".")
        return [a for a in self.agencies if any(domain == d or domain.endswith("." + d) for d in a.domains)]
