"""The form catalogue: the real forms/*.toml files against spec/forms.md, and the loader's checks."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import pytest

from core.catalogue import Catalogue, FieldDef, FormDef, load_catalogue
from core.errors import CatalogueError

FORMS_DIR = Path(str(resources.files("core.catalogue").joinpath("forms")))

CURRENT_FORMS = [
    "agency_summary",
    "chronology",
    "declaration_of_interest",
    "good_outcome",
    "referral",
    "serious_offence",
]

REFERRER = "referral_date* referrer_name* referrer_role* referrer_agency* referrer_email* referrer_phone"
CHILD = "child_name* child_dob* child_sex child_ethnicity child_address child_nhs_number"
APPROVAL = "approver_name* approver_role* approval_date*"
SIGNOFF = "manager_name* manager_role* signoff_date*"

#: every field id of each current form, "*" marking the mandatory ones (spec/forms.md)
FIELD_IDS = {
    "referral": f"""{REFERRER} {CHILD} legal_status* incident_date* date_agency_aware* harm_type*
        date_of_death abuse_or_neglect* incident_summary* reason_for_referral* criteria*
        agencies_involved parallel_processes family_aware media_interest {APPROVAL}""",
    "good_outcome": f"""{REFERRER} child_name* child_dob* {APPROVAL} practice_from* practice_to*
        agencies_involved what_worked_well* how_agencies_worked_together* outcome_for_child*
        evidence_of_impact* child_family_view consent_obtained*""",
    "serious_offence": f"""{REFERRER} {CHILD} {APPROVAL} offence_date* charge_date offence_type*
        child_role* youth_justice_involved* mappa offence_summary* reason_for_referral*""",
    "agency_summary": f"""child_name* child_dob* {SIGNOFF} case_reference* agency* service_team
        author_name* author_role* author_email* author_independent* period_from* period_to*
        agency_involved* records_secured_date summary_of_involvement* family_known_to_agency
        key_episodes went_well* could_improve* learning* child_voice* equality_diversity
        parallel_processes immediate_actions glossary""",
    "chronology": """case_reference* child_name* child_dob* agency* author_name* author_email
        period_from* period_to* manager_name* signoff_date* nil_return""",
    "declaration_of_interest": """case_reference* declarant_name* review_role* organisation*
        prior_involvement* prior_involvement_details manages_involved_practitioners*
        manages_involved_practitioners_details financial_interest* financial_interest_details
        personal_relationship* personal_relationship_details other_interest proposed_management
        signed_name* signed_date* chair_name chair_date""",
}

#: a sample of labels per form, exactly as the blank template prints them (spec/forms.md)
LABELS = [
    ("referral", "referral_date", "Date of referral"),
    ("referral", "referrer_name", "Referrer name"),
    ("referral", "referrer_role", "Referrer role"),
    ("referral", "referrer_agency", "Referrer agency"),
    ("referral", "referrer_email", "Referrer email"),
    ("referral", "referrer_phone", "Referrer phone"),
    ("referral", "child_name", "Child's name"),
    ("referral", "child_dob", "Date of birth"),
    ("referral", "child_nhs_number", "NHS number"),
    ("referral", "date_agency_aware", "Date agency became aware"),
    ("referral", "family_aware", "Is the family aware of this referral?"),
    ("referral", "approver_name", "Approved by (name)"),
    ("referral", "approval_date", "Date approved"),
    ("good_outcome", "practice_from", "Practice period from"),
    ("good_outcome", "how_agencies_worked_together", "How agencies worked together"),
    ("good_outcome", "child_family_view", "The child's and family's view"),
    ("good_outcome", "consent_obtained", "Has consent been obtained?"),
    ("serious_offence", "charge_date", "Date charged"),
    ("serious_offence", "child_role", "Child's role"),
    ("serious_offence", "mappa", "MAPPA"),
    ("serious_offence", "offence_summary", "Summary of the offence"),
    ("agency_summary", "service_team", "Service / team"),
    ("agency_summary", "author_independent", "Author independent of the case"),
    ("agency_summary", "agency_involved", "Was your agency involved?"),
    ("agency_summary", "could_improve", "What could have been done better"),
    ("agency_summary", "child_voice", "The child's voice"),
    ("agency_summary", "immediate_actions", "Immediate actions taken"),
    ("agency_summary", "manager_name", "Manager name"),
    ("agency_summary", "signoff_date", "Date signed off"),
    ("chronology", "case_reference", "Case reference"),
    ("chronology", "period_to", "Period covered to"),
    ("chronology", "nil_return", "Nil return (no involvement in the period)"),
    ("declaration_of_interest", "declarant_name", "Name"),
    (
        "declaration_of_interest",
        "manages_involved_practitioners",
        "Do you manage, or have you managed, any practitioner involved?",
    ),
    ("declaration_of_interest", "financial_interest_details", "Details of the interest"),
    ("declaration_of_interest", "signed_name", "Signed (name)"),
    ("declaration_of_interest", "chair_date", "Chair's date"),
]

SEX = ("Female", "Male", "Other", "Not known")
ETHNICITY = (
    "White",
    "Mixed or multiple",
    "Asian or Asian British",
    "Black or Black British",
    "Other ethnic group",
    "Not known",
)

#: every choice and checkboxes list in the current catalogue (spec/forms.md)
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("referral", "child_sex"): SEX,
    ("referral", "child_ethnicity"): ETHNICITY,
    ("referral", "legal_status"): (
        "None",
        "Child in Need",
        "Child Protection Plan",
        "Looked After",
        "Care Leaver",
        "Not known",
    ),
    ("referral", "harm_type"): ("Death", "Serious harm", "Other learning"),
    ("referral", "abuse_or_neglect"): ("Known", "Suspected", "Not suspected"),
    ("referral", "criteria"): (
        "A child has died and abuse or neglect is known or suspected",
        "A child has been seriously harmed and abuse or neglect is known or suspected",
        "A looked after child has died",
        "The case may offer local learning",
    ),
    ("referral", "parallel_processes"): (
        "Police investigation",
        "Coroner's inquest",
        "Child death review",
        "NHS patient safety investigation",
        "Other",
    ),
    ("serious_offence", "child_sex"): SEX,
    ("serious_offence", "child_ethnicity"): ETHNICITY,
    ("serious_offence", "offence_type"): (
        "Homicide",
        "Attempted murder",
        "Serious violence",
        "Sexual offence",
        "Weapon offence",
        "Other",
    ),
    ("serious_offence", "child_role"): ("Victim", "Alleged perpetrator", "Both"),
    ("declaration_of_interest", "review_role"): (
        "Chair",
        "Lead reviewer",
        "Panel member",
        "Agency author",
        "Other",
    ),
    ("declaration_of_interest", "proposed_management"): (
        "None needed",
        "Monitor",
        "Withdraw from the review",
    ),
}

CONTACT_TYPES = (
    "Home visit",
    "Appointment",
    "Was not brought / did not attend",
    "Telephone",
    "Referral",
    "Strategy discussion",
    "Conference or meeting",
    "Police incident",
    "Emergency department",
    "School exclusion",
    "Other",
)

#: table columns: (id, label, type) in the template's order
COLUMNS = {
    ("referral", "agencies_involved"): [
        ("agency", "Agency", "agency"),
        ("contact_name", "Contact name", "text"),
        ("contact_email", "Contact email", "email"),
        ("still_involved", "Still involved", "yesno"),
    ],
    ("good_outcome", "agencies_involved"): [
        ("agency", "Agency", "agency"),
        ("contact_name", "Contact name", "text"),
        ("contact_email", "Contact email", "email"),
        ("still_involved", "Still involved", "yesno"),
    ],
    ("agency_summary", "immediate_actions"): [
        ("action", "Action", "text"),
        ("owner", "Owner", "text"),
        ("due_date", "Due date", "date"),
    ],
    ("agency_summary", "glossary"): [
        ("abbreviation", "Abbreviation", "text"),
        ("meaning", "Meaning", "text"),
    ],
}

EVENT_COLUMNS = [
    ("seq", "Seq", "integer", False),
    ("date", "Date", "date", True),
    ("time", "Time", "time", False),
    ("end_date", "End date", "date", False),
    ("source", "Source of information", "text", True),
    ("practitioner_role", "Practitioner role", "text", False),
    ("persons_involved", "Persons involved", "text", False),
    ("contact_type", "Contact type", "choice", False),
    ("event", "Event", "longtext", True),
    ("action_outcome", "Action / outcome", "longtext", False),
    ("significance", "Significance", "longtext", False),
    ("child_seen", "Child seen", "yesno", False),
]

#: synonyms spec/forms.md says the reader copes with
REQUIRED_SYNONYMS = [
    ("referral", "referrer_name", "Name of person referring"),
    ("agency_summary", "signoff_date", "Signed off on"),
    ("chronology", "signoff_date", "Signed off on"),
    ("agency_summary", "child_dob", "DOB"),
    ("agency_summary", "case_reference", "Our reference"),
]
REQUIRED_EVENT_SYNONYMS = [
    ("event", "Description"),
    ("date", "Date of event"),
    ("event", "Details of event"),
    ("action_outcome", "Outcome"),
]

ANALYSIS = {
    "referral": {"reason_for_referral"},
    "good_outcome": {"what_worked_well", "how_agencies_worked_together", "evidence_of_impact"},
    "serious_offence": {"reason_for_referral"},
    "agency_summary": {"went_well", "could_improve", "learning", "child_voice"},
    "chronology": set(),
    "declaration_of_interest": set(),
}


ALL_FORMS = list(load_catalogue())


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def norm(text: str) -> str:
    """A label as the reader compares it: case, curly quotes, punctuation and spacing ignored."""
    text = text.casefold().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def squash(text: str) -> str:
    """A stricter comparison: punctuation dropped without leaving a space ("D.O.B." is "dob")."""
    return re.sub(r"[^\w ]+", "", text.casefold().replace("\u2019", "'"))


def parse_ids(spec: str) -> dict[str, bool]:
    return {word.rstrip("*"): word.endswith("*") for word in spec.split()}


# ---------------------------------------------------------------- the real catalogue


def test_the_catalogue_holds_seven_versions_of_six_forms(catalogue: Catalogue) -> None:
    assert 7 == len(catalogue)
    assert CURRENT_FORMS == catalogue.form_ids()
    assert CURRENT_FORMS == sorted(f.id for f in catalogue.current())


def test_every_current_form_is_version_2026_1(catalogue: Catalogue) -> None:
    assert {"2026.1"} == {f.version for f in catalogue.current()}


def test_agency_summary_2025_1_is_an_older_accepted_version(catalogue: Catalogue) -> None:
    old = catalogue.get("agency_summary", "2025.1")
    new = catalogue.get("agency_summary")
    assert "accepted" == old.form.status
    assert "2026.1" == new.version
    assert {"equality_diversity", "records_secured_date"} == {f.id for f in new.fields} - {f.id for f in old.fields}
    assert "What could have been done differently" == old.field("could_improve").label
    assert old.form.nil_return_field == new.form.nil_return_field


def test_the_old_version_matches_the_new_apart_from_its_documented_differences(catalogue: Catalogue) -> None:
    old = catalogue.get("agency_summary", "2025.1")
    new = catalogue.get("agency_summary")
    for f in old.fields:
        if f.id != "could_improve":
            assert new.field(f.id) == f


@pytest.mark.parametrize("form_id", CURRENT_FORMS)
def test_each_form_has_exactly_the_contract_field_ids_and_mandatory_flags(catalogue: Catalogue, form_id: str) -> None:
    form = catalogue.get(form_id)
    expected = parse_ids(FIELD_IDS[form_id])
    assert expected == {f.id: f.mandatory for f in form.fields}


@pytest.mark.parametrize(("form_id", "field_id", "label"), LABELS)
def test_a_field_carries_the_label_spec_prints(catalogue: Catalogue, form_id: str, field_id: str, label: str) -> None:
    assert label == catalogue.get(form_id).field(field_id).label


def test_the_child_block_has_the_same_labels_wherever_it_is_used(catalogue: Catalogue) -> None:
    labels = {
        (f.id, f.label) for form in catalogue.current() for f in form.fields if f.id in ("child_name", "child_dob")
    }
    assert {("child_name", "Child's name"), ("child_dob", "Date of birth")} == labels


def test_every_choice_list_is_the_one_spec_gives(catalogue: Catalogue) -> None:
    found = {
        (form.id, f.id): f.choices
        for form in catalogue.current()
        for f in form.fields
        if f.type in ("choice", "checkboxes")
    }
    assert CHOICES == found


def test_the_chronology_contact_type_offers_the_eleven_options(catalogue: Catalogue) -> None:
    contact = next(c for c in catalogue.get("chronology").events if c.id == "contact_type")
    assert CONTACT_TYPES == contact.choices


def test_referral_criteria_need_at_least_one_tick(catalogue: Catalogue) -> None:
    assert 1 == catalogue.get("referral").field("criteria").min_selected


def test_date_of_death_is_required_when_the_harm_is_death(catalogue: Catalogue) -> None:
    cond = catalogue.get("referral").field("date_of_death").required_when
    assert cond is not None
    assert ("harm_type", "Death") == (cond.field, cond.equals)


def test_each_declaration_detail_is_required_when_its_question_is_answered_yes(catalogue: Catalogue) -> None:
    form = catalogue.get("declaration_of_interest")
    conditional = {
        f.id: (f.required_when.field, f.required_when.equals) for f in form.fields if f.required_when is not None
    }
    questions = [
        "prior_involvement",
        "manages_involved_practitioners",
        "financial_interest",
        "personal_relationship",
    ]
    assert {f"{q}_details": (q, True) for q in questions} == conditional


@pytest.mark.parametrize(("form_id", "field_id"), list(COLUMNS))
def test_a_table_has_the_columns_spec_lists(catalogue: Catalogue, form_id: str, field_id: str) -> None:
    table = catalogue.get(form_id).field(field_id)
    assert "table" == table.type
    assert COLUMNS[(form_id, field_id)] == [(c.id, c.label, c.type) for c in table.columns]


def test_the_chronology_events_are_in_spec_order(catalogue: Catalogue) -> None:
    form = catalogue.get("chronology")
    assert "chronology" == form.form.layout
    assert EVENT_COLUMNS == [(c.id, c.label, c.type, c.mandatory) for c in form.events]
    assert {"event", "action_outcome", "significance"} == {c.id for c in form.events if c.narrative}


def test_the_chronology_header_lives_in_the_details_section(catalogue: Catalogue) -> None:
    form = catalogue.get("chronology")
    assert {"details"} == {f.section for f in form.fields}
    assert "yesno" == form.field("nil_return").type


def test_only_the_agency_summary_narrative_may_be_left_empty_by_a_nil_return(catalogue: Catalogue) -> None:
    exempt = {(form.id, f.id) for form in catalogue.current() for f in form.fields if f.nil_exempt}
    narrative = ["summary_of_involvement", "went_well", "could_improve", "learning", "child_voice"]
    assert {("agency_summary", i) for i in narrative} == exempt
    assert "agency_involved" == catalogue.get("agency_summary").form.nil_return_field


@pytest.mark.parametrize("form_id", CURRENT_FORMS)
def test_the_analysis_sections_are_flagged(catalogue: Catalogue, form_id: str) -> None:
    assert ANALYSIS[form_id] == {f.id for f in catalogue.get(form_id).fields if f.analysis}


def test_every_analysis_field_is_narrative_longtext(catalogue: Catalogue) -> None:
    odd = [
        (form.id, f.id)
        for form in catalogue
        for f in form.fields
        if f.analysis and not (f.narrative and f.type == "longtext")
    ]
    assert [] == odd


def test_every_field_and_column_tells_the_author_what_to_write(catalogue: Catalogue) -> None:
    silent = [(form.id, f.id) for form in catalogue for f in form.fields if not f.help.strip()]
    silent += [(form.id, c.id) for form in catalogue for f in form.fields for c in f.columns if not c.help.strip()]
    silent += [(form.id, c.id) for form in catalogue for c in form.events if not c.help.strip()]
    assert [] == silent


def test_every_form_has_guidance_and_other_titles(catalogue: Catalogue) -> None:
    thin = [form.id for form in catalogue if not 4 <= len(form.form.guidance) <= 6 or not form.form.title_aliases]
    assert [] == thin


@pytest.mark.parametrize(("form_id", "field_id", "synonym"), REQUIRED_SYNONYMS)
def test_the_synonyms_spec_names_are_aliases(catalogue: Catalogue, form_id: str, field_id: str, synonym: str) -> None:
    assert synonym in catalogue.get(form_id).field(field_id).aliases


@pytest.mark.parametrize(("column_id", "synonym"), REQUIRED_EVENT_SYNONYMS)
def test_renamed_chronology_columns_are_aliases(catalogue: Catalogue, column_id: str, synonym: str) -> None:
    column = next(c for c in catalogue.get("chronology").events if c.id == column_id)
    assert synonym in column.aliases


@pytest.mark.parametrize(
    ("form_id", "section_id", "short", "field_id"),
    [
        ("referral", "approval", "Date", "approval_date"),
        ("referral", "referrer", "Name", "referrer_name"),
        ("referral", "child", "Name", "child_name"),
        ("agency_summary", "signoff", "Role", "manager_role"),
        ("agency_summary", "author", "Name", "author_name"),
    ],
)
def test_a_short_label_is_resolved_by_its_section(
    catalogue: Catalogue, form_id: str, section_id: str, short: str, field_id: str
) -> None:
    form = catalogue.get(form_id)
    owners = [f.id for f in form.fields_in(section_id) if short in f.section_aliases]
    assert [field_id] == owners


# ---------------------------------------------------------------- aliases never collide


def _clashes(owned: Iterable[tuple[str, str]]) -> list[str]:
    """Normalised labels claimed by more than one owner."""
    seen: dict[str, set[str]] = {}
    for owner, label in owned:
        seen.setdefault(norm(label), set()).add(owner)
        seen.setdefault(" ".join(squash(label).split()), set()).add(owner)
    return sorted(k for k, owners in seen.items() if len(owners) > 1)


def _global_labels(form: FormDef) -> list[tuple[str, str]]:
    return [(f.id, label) for f in form.fields for label in f.all_labels]


def test_norm_ignores_case_punctuation_and_curly_quotes() -> None:
    assert norm("child's name") == norm("  Child\u2019s  NAME: ")
    assert norm("Date of birth") != norm("Date of death")


def test_the_clash_finder_finds_a_clash() -> None:
    assert ["dob"] == _clashes([("child_dob", "DOB"), ("date_of_death", "dob:")])
    assert ["dob"] == _clashes([("child_dob", "DOB"), ("date_of_death", "D.O.B.")])


@pytest.mark.parametrize("form", ALL_FORMS, ids=lambda f: f"{f.id}-{f.version}")
def test_no_two_fields_share_a_label_or_alias(form: FormDef) -> None:
    assert [] == _clashes(_global_labels(form))


@pytest.mark.parametrize("form", ALL_FORMS, ids=lambda f: f"{f.id}-{f.version}")
def test_a_section_alias_is_unique_in_its_section_and_no_other_fields_label(form: FormDef) -> None:
    problems: list[str] = []
    for section in form.sections:
        fields: list[FieldDef] = form.fields_in(section.id)
        short = [(f.id, a) for f in fields for a in f.section_aliases]
        problems += _clashes(short)
        problems += _clashes(short + [(f.id, label) for f in fields for label in f.all_labels])
        others = {norm(label): f.id for f in form.fields for label in f.all_labels}
        problems += [a for owner, a in short if others.get(norm(a), owner) != owner]
    assert [] == problems


@pytest.mark.parametrize("form", ALL_FORMS, ids=lambda f: f"{f.id}-{f.version}")
def test_no_two_columns_of_a_table_share_a_heading_or_alias(form: FormDef) -> None:
    tables = [f.columns for f in form.fields if f.columns] + [form.events]
    problems = [clash for cols in tables for clash in _clashes((c.id, h) for c in cols for h in (c.label, *c.aliases))]
    assert [] == problems


def test_the_chronology_header_labels_never_look_like_an_event_heading(catalogue: Catalogue) -> None:
    form = catalogue.get("chronology")
    header = {norm(label) for _, label in _global_labels(form)}
    header |= {norm(a) for f in form.fields for a in f.section_aliases}
    headings = {norm(h) for c in form.events for h in (c.label, *c.aliases)}
    assert set() == header & headings


@pytest.mark.parametrize("form", ALL_FORMS, ids=lambda f: f"{f.id}-{f.version}")
def test_no_label_or_alias_is_also_an_option_text(form: FormDef) -> None:
    options = {norm(o) for f in form.fields for o in f.choices}
    options |= {norm(o) for c in form.events for o in c.choices}
    labels = {norm(label) for _, label in _global_labels(form)}
    labels |= {norm(a) for f in form.fields for a in f.section_aliases}
    assert set() == labels & options


# ---------------------------------------------------------------- the loader fails loudly


@pytest.fixture
def forms_copy(tmp_path: Path) -> Path:
    for path in FORMS_DIR.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_a_copy_of_the_catalogue_loads_from_a_directory(forms_copy: Path) -> None:
    assert 7 == len(load_catalogue(forms_copy))


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _fails_naming(directory: Path, name: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(name)):
        load_catalogue(directory)


def test_a_duplicate_field_id_fails_naming_the_file(forms_copy: Path) -> None:
    _append(
        forms_copy / "referral-2026.1.toml",
        '\n[[fields]]\nid = "child_name"\nsection = "child"\nlabel = "Name again"\ntype = "text"\n',
    )
    with pytest.raises(CatalogueError, match=r"(?s)referral-2026\.1\.toml.*duplicate field ids"):
        load_catalogue(forms_copy)


def test_an_unknown_type_fails_naming_the_file(forms_copy: Path) -> None:
    path = forms_copy / "good_outcome-2026.1.toml"
    text = path.read_text(encoding="utf-8")
    assert 'type = "phone"' in text
    path.write_text(text.replace('type = "phone"', 'type = "telephone"'), encoding="utf-8")
    _fails_naming(forms_copy, "good_outcome-2026.1.toml")


def test_a_choice_field_without_choices_fails_naming_the_file(forms_copy: Path) -> None:
    _append(
        forms_copy / "declaration_of_interest-2026.1.toml",
        '\n[[fields]]\nid = "colour"\nsection = "chair"\nlabel = "Colour"\ntype = "choice"\n',
    )
    with pytest.raises(CatalogueError, match=r"(?s)declaration_of_interest-2026\.1\.toml.*no choices"):
        load_catalogue(forms_copy)


def test_a_wrongly_named_file_fails_naming_it(forms_copy: Path) -> None:
    (forms_copy / "chronology-2026.1.toml").rename(forms_copy / "chronology-2027.1.toml")
    _fails_naming(forms_copy, "chronology-2027.1.toml")


def test_invalid_toml_fails_naming_the_file(forms_copy: Path) -> None:
    _append(forms_copy / "serious_offence-2026.1.toml", "\n[[fields]\nid = \n")
    with pytest.raises(CatalogueError, match=r"serious_offence-2026\.1\.toml: not valid TOML"):
        load_catalogue(forms_copy)


def test_an_unknown_key_fails_naming_the_file(forms_copy: Path) -> None:
    path = forms_copy / "agency_summary-2025.1.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('layout = "word"', 'layout = "word"\ncolour = "red"'),
        encoding="utf-8",
    )
    _fails_naming(forms_copy, "agency_summary-2025.1.toml")
