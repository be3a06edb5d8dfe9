"""The agency registry: an agency is named by its id, name or an alias; never guessed."""

from __future__ import annotations

import pytest

from core.agencies import Agency, AgencyRegistry

REGISTRY = AgencyRegistry(
    agencies=(
        Agency(id="gmp", name="Greater Manchester Police", aliases=("GMP", "police"), domains=("gmp.example.org",)),
        Agency(
            id="childrens_services",
            name="Salford Children's Services",
            aliases=("Children's Social Care", "CSC"),
            domains=("council.example.org",),
        ),
        Agency(id="housing", name="Salford Housing", aliases=("Housing",), domains=("council.example.org",)),
        Agency(id="alpha", name="Alpha Trust", aliases=("Shared Name",)),
        Agency(id="beta", name="Beta Trust", aliases=("Shared Name",)),
    )
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gmp", "gmp"),
        ("Greater Manchester Police", "gmp"),
        ("  greater   MANCHESTER police. ", "gmp"),
        ("Police", "gmp"),
        ("childrens services", "childrens_services"),
        ("Children\u2019s Social Care", "childrens_services"),
        ("csc", "childrens_services"),
    ],
)
def test_an_agency_is_matched_by_id_name_or_alias_ignoring_case_and_punctuation(text: str, expected: str) -> None:
    assert expected == REGISTRY.match(text)


@pytest.mark.parametrize("text", ["", "   ", "Police Scotland", "Manchester"])
def test_an_unknown_text_names_no_agency(text: str) -> None:
    assert REGISTRY.match(text) is None


def test_a_spelling_two_agencies_share_names_neither() -> None:
    assert REGISTRY.match("shared name") is None


def test_a_shared_domain_identifies_every_partner_on_it() -> None:
    assert ["childrens_services", "housing"] == [a.id for a in REGISTRY.by_domain("council.example.org")]
    assert ["gmp"] == [a.id for a in REGISTRY.by_domain("mail.gmp.example.org")]
    assert [] == REGISTRY.by_domain("example.com")
