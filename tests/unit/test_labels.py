"""Recognising labels, headings, column headers and titles (parsers.labels)."""

from __future__ import annotations

import time

import pytest

from core.catalogue import Catalogue, Column, FieldDef, FormDef, FormInfo, Section, load_catalogue
from parsers.labels import FieldMatcher, LabelMatch, form_title_score, normalise_label

# --- normalise_label ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Date of birth", "date of birth"),
        ("DATE  OF\tBIRTH", "date of birth"),
        ("  Date of birth:  ", "date of birth"),
        ("Date of birth *", "date of birth"),
        ("Date of birth:*", "date of birth"),
        ("Date of birth (dd/mm/yyyy)", "date of birth"),
        ("Date of birth [dd/mm/yyyy]:", "date of birth"),
        ("Child\u2019s name", "childs name"),
        ("Child's name", "childs name"),
        ("\u201cName\u201d", "name"),
        ("Service / team", "service team"),
        ("Equality & diversity", "equality and diversity"),
        ("1. Date of birth", "date of birth"),
        ("2) Sex", "sex"),
        ("1.2 Sex", "sex"),
        ("a) Sex", "sex"),
        ("(b) Sex", "sex"),
        ("Q3 Sex", "sex"),
        ("Q3. Sex", "sex"),
        ("iv) Sex", "sex"),
        ("A child has died", "a child has died"),  # an article, not numbering
        ("D.O.B.", "dob"),
        ("Is the family aware of this referral?", "is the family aware of this referral"),
        ("(name)", "name"),  # a label that is only a bracket keeps its words
        ("", ""),
        ("***", ""),
    ],
)
def test_normalise_label(text: str, expected: str) -> None:
    assert expected == normalise_label(text)


# --- a small form built here --------------------------------------------------------------
def small_form() -> FormDef:
    return FormDef(
        form=FormInfo(id="mini", version="1", title="Mini Referral Form", layout="word",
                      title_aliases=("Little Referral",)),
        sections=(
            Section(id="child", title="1. Child", aliases=("About the child",)),
            Section(id="approval", title="2. Approval", aliases=("Authorisation",)),
        ),
        fields=(
            FieldDef(id="child_name", section="child", label="Child's name", type="text", aliases=("Name of child",)),
            FieldDef(id="child_dob", section="child", label="Date of birth", type="date", aliases=("DOB",)),
            FieldDef(id="date_of_death", section="child", label="Date of death", type="date"),
            FieldDef(id="approver_name", section="approval", label="Approved by (name)", type="text",
                     section_aliases=("Name",)),
            FieldDef(id="approval_date", section="approval", label="Date approved", type="date",
                     section_aliases=("Date",)),
            FieldDef(id="contacts", section="approval", label="Agencies involved", type="table",
                     columns=(Column(id="agency", label="Agency", type="text"),)),
        ),
    )  # fmt: skip


@pytest.fixture(scope="module")
def mini() -> FieldMatcher:
    return FieldMatcher(small_form())


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Child's name", "child_name"),
        ("CHILD\u2019S NAME:", "child_name"),
        ("Name of child *", "child_name"),
        ("Date of birth (dd/mm/yyyy)", "child_dob"),
        ("d.o.b.", "child_dob"),
        ("Approved by (name)", "approver_name"),
        ("Approved by", "approver_name"),
        ("Agencies involved:", "contacts"),
    ],
)
def test_an_exact_label_or_alias_matches_with_score_one(mini: FieldMatcher, text: str, field: str) -> None:
    assert LabelMatch(field, 1.0, True) == mini.match(text)


def test_a_section_alias_matches_only_inside_its_section(mini: FieldMatcher) -> None:
    assert (LabelMatch("approval_date", 1.0, True), None, None) == (
        mini.match("Date:", section="approval"),
        mini.match("Date:", section="child"),
        mini.match("Date:"),
    )


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Birth date", "child_dob"),  # reordered
        ("The child's date of birth", "child_dob"),  # words added
        ("Full name of the child", "child_name"),
        ("Date of the death", "date_of_death"),
    ],
)
def test_a_reworded_label_matches_fuzzily(mini: FieldMatcher, text: str, field: str) -> None:
    found = mini.match(text)
    assert (field, False) == (found.field_id if found else None, found.exact if found else None)
    assert found is not None and 0.5 <= found.score < 1.0


@pytest.mark.parametrize(
    "text", ["Date", "Name", "Date of referral", "Favourite colour", "Yes", "", "Click or tap here to enter text."]
)
def test_an_ambiguous_or_unrelated_label_matches_nothing(mini: FieldMatcher, text: str) -> None:
    assert mini.match(text) is None


def test_split_label_value_splits_at_the_first_colon_outside_brackets(mini: FieldMatcher) -> None:
    assert [
        (LabelMatch("child_dob", 1.0, True), "03/03/2015"),
        (LabelMatch("child_dob", 1.0, True), "03/03/2015"),
        (LabelMatch("child_dob", 1.0, True), ""),
        (LabelMatch("approval_date", 1.0, True), "14:30 on 3 March"),
        None,
        None,
        None,
    ] == [
        mini.split_label_value("Date of birth: 03/03/2015"),
        mini.split_label_value("Date of birth (format: dd/mm/yyyy): 03/03/2015"),
        mini.split_label_value("Date of birth:"),
        mini.split_label_value("Date: 14:30 on 3 March", section="approval"),
        mini.split_label_value("Note: the child was seen"),
        mini.split_label_value("Date of birth - 03/03/2015"),
        mini.split_label_value(": 03/03/2015"),
    ]


def test_split_label_value_also_splits_at_a_tab(mini: FieldMatcher) -> None:
    assert (LabelMatch("child_name", 1.0, True), "Child A") == mini.split_label_value("Child's name\tChild A")


@pytest.mark.parametrize(
    ("heading", "section"),
    [
        ("1. Child", "child"),
        ("Child", "child"),
        ("Section 1: Child", "child"),
        ("SECTION 1 - CHILD", "child"),
        ("Part 2", "approval"),
        ("About the child", "child"),
        ("2 Approval", "approval"),
        ("Authorisation:", "approval"),
        ("Guidance notes", None),
        ("Section 9", None),
    ],
)
def test_a_heading_names_its_section(mini: FieldMatcher, heading: str, section: str | None) -> None:
    assert section == mini.match_section(heading)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Mini Referral Form", 1.0),
        ("MINI REFERRAL", 1.0),
        ("Little referral form", 1.0),
        ("Declaration of interest", 0.0),
    ],
)
def test_form_title_score_is_one_for_the_title_or_an_alias(title: str, expected: float) -> None:
    assert expected == form_title_score(title, small_form())


def test_form_title_score_ranks_a_title_with_extra_words_above_a_partial_one() -> None:
    form = small_form()
    assert (
        1.0
        > form_title_score("Example Partnership Mini Referral Form 2026", form)
        > form_title_score("Mini Form", form)
        > 0.0
    )


# --- the real catalogue -------------------------------------------------------------------
@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def matchers(catalogue: Catalogue) -> dict[str, FieldMatcher]:
    return {f"{f.id}-{f.version}": FieldMatcher(f) for f in catalogue}


def every_label(catalogue: Catalogue) -> list[tuple[str, str, str, str | None]]:
    out: list[tuple[str, str, str, str | None]] = []
    for form in catalogue:
        key = f"{form.id}-{form.version}"
        for field in form.fields:
            out += [(key, label, field.id, None) for label in field.all_labels]
            out += [(key, label, field.id, field.section) for label in field.section_aliases]
    return out


def test_every_label_and_alias_in_the_catalogue_matches_its_own_field(
    catalogue: Catalogue, matchers: dict[str, FieldMatcher]
) -> None:
    wrong = [
        (form, label, field)
        for form, label, field, section in every_label(catalogue)
        if matchers[form].match(label, section) != LabelMatch(field, 1.0, True)
    ]
    assert [] == wrong


def test_every_label_still_matches_when_mangled_as_people_mangle_them(
    catalogue: Catalogue, matchers: dict[str, FieldMatcher]
) -> None:
    def mangle(label: str) -> list[str]:
        return [label.upper(), f"  {label.lower()} : ", f"{label} *", f"{label} (please complete)",
                "3. " + label.replace("'", "\u2019"), label.replace(" ", "  ")]  # fmt: skip

    wrong = [
        (form, variant, field)
        for form, label, field, section in every_label(catalogue)
        for variant in mangle(label)
        if (m := matchers[form].match(variant, section)) is None or m.field_id != field
    ]
    assert [] == wrong


def test_every_section_title_and_alias_names_its_section(
    catalogue: Catalogue, matchers: dict[str, FieldMatcher]
) -> None:
    wrong = [
        (f.id, t, s.id)
        for f in catalogue
        for s in f.sections
        for t in (s.title, *s.aliases, f"Section {s.title}")
        if matchers[f"{f.id}-{f.version}"].match_section(t) != s.id
    ]
    assert [] == wrong


def test_every_column_heading_and_alias_names_its_column(
    catalogue: Catalogue, matchers: dict[str, FieldMatcher]
) -> None:
    wrong = []
    for f in catalogue:
        m = matchers[f"{f.id}-{f.version}"]
        column_sets = [f.events] + [fd.columns for fd in f.fields if fd.columns]
        for columns in column_sets:
            for c in columns:
                for text in (c.label, *c.aliases, c.label.upper() + ":"):
                    if m.match_column(text, columns) != c.id:
                        wrong.append((f.id, text, c.id))
    assert [] == wrong


@pytest.mark.parametrize(
    ("form", "text", "section", "field"),
    [
        # reworded, reordered, added or dropped words, synonyms
        ("referral", "Name of the person referring", None, "referrer_name"),
        ("referral", "Referrer\u2019s e-mail address", None, "referrer_email"),
        ("referral", "Referrer tel no", None, "referrer_phone"),
        ("referral", "Birth date of the child", None, "child_dob"),
        ("referral", "Date of the child's birth", None, "child_dob"),
        ("referral", "Full name of the child", None, "child_name"),
        ("referral", "Date of death of child", None, "date_of_death"),
        ("referral", "Approver's name", None, "approver_name"),
        ("referral", "Is the family aware?", None, "family_aware"),
        ("agency_summary", "Covered from", None, "period_from"),
        ("agency_summary", "Could have been done better", None, "could_improve"),
        ("agency_summary", "Signed off on", None, "signoff_date"),
        ("agency_summary", "Date signed-off", None, "signoff_date"),
        ("agency_summary", "Child's voice and lived experience", None, "child_voice"),
        ("declaration_of_interest", "Details of relationship", None, "personal_relationship_details"),
        ("declaration_of_interest", "Any prior involvement with the child or family", None, "prior_involvement"),
        # short labels resolved by the section they stand in
        ("referral", "Date:", "approval", "approval_date"),
        ("referral", "Date:", "referrer", "referral_date"),
        ("referral", "Name", "approval", "approver_name"),
        ("referral", "Name", "child", "child_name"),
        ("referral", "Role", "approval", "approver_role"),
        ("agency_summary", "From", "case", "period_from"),
        ("agency_summary", "To", "case", "period_to"),
        ("agency_summary", "Date", "signoff", "signoff_date"),
        ("declaration_of_interest", "Date", "chair", "chair_date"),
    ],
)
def test_real_labels_as_agencies_write_them(
    catalogue: Catalogue, form: str, text: str, section: str | None, field: str
) -> None:
    found = FieldMatcher(catalogue.get(form)).match(text, section)
    assert field == (found.field_id if found else None)


@pytest.mark.parametrize(
    ("form", "text"),
    [
        # similar labels must not be taken for one another
        ("referral", "Date"),
        ("referral", "Name"),
        ("referral", "Incident"),
        ("referral", "Manager name"),
        ("referral", "Date signed off"),
        ("referral", "Date of offence"),
        ("referral", "Child A"),  # a value, not a label
        ("referral", "Police investigation"),
        ("agency_summary", "Date of death"),
        ("agency_summary", "Date of referral"),
        ("agency_summary", "Approved by (name)"),
        ("agency_summary", "Period covered"),
        ("agency_summary", "Name"),
        ("agency_summary", "Role"),
        ("agency_summary", "Author"),
        ("serious_offence", "Date of incident"),
        ("declaration_of_interest", "Date"),
        ("declaration_of_interest", "Details"),
        ("chronology", "Date of death"),
        ("good_outcome", "Period covered"),
    ],
)
def test_ambiguous_or_foreign_labels_match_nothing(catalogue: Catalogue, form: str, text: str) -> None:
    assert FieldMatcher(catalogue.get(form)).match(text) is None


@pytest.mark.parametrize(
    ("form", "pairs"),
    [
        ("referral", [("Date of birth", "child_dob"), ("Date of death", "date_of_death"),
                      ("Date of referral", "referral_date"), ("Date of incident", "incident_date"),
                      ("Date approved", "approval_date"), ("Approved by (name)", "approver_name")]),
        ("agency_summary", [("Period covered from", "period_from"), ("Period covered to", "period_to"),
                            ("Manager name", "manager_name"), ("Author name", "author_name"),
                            ("Date signed off", "signoff_date"), ("Date records secured", "records_secured_date")]),
        ("declaration_of_interest", [("Date signed", "signed_date"), ("Chair's date", "chair_date"),
                                     ("Signed (name)", "signed_name"), ("Chair's name", "chair_name")]),
    ],
)  # fmt: skip
def test_similar_labels_in_one_form_each_find_their_own_field(
    catalogue: Catalogue, form: str, pairs: list[tuple[str, str]]
) -> None:
    m = FieldMatcher(catalogue.get(form))
    assert [f for _, f in pairs] == [getattr(m.match(label), "field_id", None) for label, _ in pairs]


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("Date of event", "date"),
        ("Details of event", "event"),
        ("Outcome", "action_outcome"),
        ("Action/Outcome", "action_outcome"),
        ("Time of event", "time"),
        ("Date (dd/mm/yyyy)", "date"),
        ("Type of contact", "contact_type"),
        ("Was the child seen?", "child_seen"),
        ("Description of what happened", "event"),
        ("Favourite colour", None),
        ("Date/time", None),
    ],
)
def test_renamed_chronology_columns_are_recognised(catalogue: Catalogue, text: str, column: str | None) -> None:
    form = catalogue.get("chronology")
    assert column == FieldMatcher(form).match_column(text, form.events)


@pytest.mark.parametrize(
    ("heading", "section"),
    [
        ("Section 3: Incident", "incident"),
        ("3. Incident", "incident"),
        ("Section 3", "incident"),
        ("INCIDENT DETAILS", "incident"),
        ("Details about the incident", "incident"),
        ("8 Approval", "approval"),
    ],
)
def test_referral_headings_as_agencies_write_them(catalogue: Catalogue, heading: str, section: str) -> None:
    assert section == FieldMatcher(catalogue.get("referral")).match_section(heading)


@pytest.mark.parametrize(
    ("title", "form"),
    [
        ("Practice Review Referral Form", "referral"),
        ("Example Partnership Practice Review Referral Form 2026", "referral"),
        ("Agency Summary Report", "agency_summary"),
        ("Individual Management Review", "agency_summary"),
        ("Chronology of significant events", "chronology"),
        ("Declaration of Interest Form", "declaration_of_interest"),
        ("Good Outcome Review Referral", "good_outcome"),
        ("Serious Offence Review Referral", "serious_offence"),
    ],
)
def test_a_title_scores_highest_for_its_own_form(catalogue: Catalogue, title: str, form: str) -> None:
    scores = sorted(((form_title_score(title, f), f.id) for f in catalogue.current()), reverse=True)
    assert (form, True) == (scores[0][1], scores[0][0] > scores[1][0])


def test_matching_a_whole_form_of_labels_takes_a_few_milliseconds(catalogue: Catalogue) -> None:
    form = catalogue.get("referral")
    labels = [f"{f.label}:" for f in form.fields] + [f"{a} *" for f in form.fields for a in f.aliases]
    start = time.perf_counter()
    matcher = FieldMatcher(form)
    results = [matcher.match(label) for label in labels]
    elapsed = time.perf_counter() - start
    assert (len(labels), True) == (sum(r is not None for r in results), elapsed < 0.25)
