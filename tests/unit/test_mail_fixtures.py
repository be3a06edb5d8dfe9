"""The realistic agency emails every later test uses: each decodes to what it says it is."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from functools import cache

import pytest
from tnefparse.tnef import TNEF

from core.mail import InboundMessage
from intake.mime import decode
from intake.screening import screen
from intake.settings import ScreeningSettings
from tests.fixtures import flawed, hostile, mail
from tests.fixtures.filler import filled_document
from tests.fixtures.mail import AUTHSERV_ID, PARTNERSHIP, FixtureMail
from tests.fixtures.sample import CASE_REFERENCE, FIXTURE_AGENCIES
from tests.fixtures.tnef import short_name, winmail_dat

CORPUS = mail.corpus()
SETTINGS = ScreeningSettings(trusted_authserv_ids=(AUTHSERV_ID,))


@cache
def raw_of(name: str) -> bytes:
    return next(m for m in CORPUS if m.name == name).build()


def decoded(name: str) -> InboundMessage:
    return decode(raw_of(name), trusted_authserv_ids=(AUTHSERV_ID,))


# -- the corpus -----------------------------------------------------------------------------


def test_the_corpus_has_every_form_good_and_flawed_and_every_awkward_kind():
    names = {m.name for m in CORPUS}

    assert {f"good-{form_id}" for form_id in mail.FORM_IDS} <= names
    assert {f"flawed-{f.name}" for f in flawed.FLAWED} <= names
    assert {"forwarded", "winmail", "hostile", "unknown-sender", "bounce-dsn", "auto-reply-outlook"} <= names
    assert len(CORPUS) >= 30


def test_the_corpus_names_are_unique():
    assert len(CORPUS) == len({m.name for m in CORPUS})


@pytest.mark.parametrize("fixture", CORPUS, ids=lambda m: m.name)
def test_each_email_decodes_to_what_it_says(fixture: FixtureMail):
    msg = decoded(fixture.name)
    result = screen(msg, FIXTURE_AGENCIES, SETTINGS)

    assert fixture.attachments == tuple(a.filename for a in msg.attachments if not a.inline_image)
    assert all(a.data for a in msg.attachments)
    assert () == msg.problems
    assert msg.sender is not None and msg.message_id is not None and msg.date is not None
    assert (fixture.automated, fixture.known_sender) == (result.automated, result.known)


@pytest.mark.parametrize("fixture", CORPUS, ids=lambda m: m.name)
def test_each_email_is_plain_rfc5322_with_crlf_line_ends(fixture: FixtureMail):
    raw = raw_of(fixture.name)

    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert raw.isascii()


@pytest.mark.parametrize("fixture", CORPUS, ids=lambda m: m.name)
def test_each_email_uses_only_example_domains(fixture: FixtureMail):
    domains = set(re.findall(rb"@([a-z0-9.-]+\.[a-z]+)", raw_of(fixture.name).lower()))

    assert set() == {d for d in domains if not re.search(rb"example\.(org|com|net)$", d)}


def test_the_same_builder_gives_the_same_bytes():
    first, second = mail.identical_resend()

    assert first == second


def test_different_emails_have_different_message_ids():
    ids = [decoded(m.name).message_id for m in CORPUS]

    assert len(ids) == len(set(ids))


def test_every_agency_person_sends_from_a_domain_in_the_fixture_registry():
    for key, person in mail.PEOPLE.items():
        agencies = FIXTURE_AGENCIES.by_domain(person.domain)
        assert agencies, key
        assert person.agency is None or person.agency in [a.id for a in agencies]


def test_mail_is_addressed_to_the_partnership():
    assert PARTNERSHIP == decoded("good-referral").headers["to"]


# -- particular builders --------------------------------------------------------------------


@pytest.mark.parametrize("form_id", mail.FORM_IDS)
def test_a_good_form_email_carries_the_complete_document(form_id: str):
    (found,) = decode(mail.good_form_email(form_id)).attachments

    assert filled_document(form_id)[1] == found.data


def test_a_flawed_form_email_carries_the_flawed_file():
    (found,) = decode(mail.flawed_form_email("referral-impossible-date")).attachments

    assert ("referral-impossible-date.docx", flawed.build("referral-impossible-date")) == (found.filename, found.data)


def test_the_forwarded_email_is_message_rfc822_holding_the_agency_email():
    outer = BytesParser(policy=policy.default).parsebytes(mail.forwarded_email())

    types = [p.get_content_type() for p in outer.walk()]

    assert "message/rfc822" in types
    assert "FW: " + CASE_REFERENCE in str(outer["Subject"])


def test_the_winmail_email_holds_application_ms_tnef():
    outer = BytesParser(policy=policy.default).parsebytes(mail.winmail_email())

    assert ["winmail.dat"] == [p.get_filename() for p in outer.walk() if p.get_content_type() == "application/ms-tnef"]


def test_the_bounce_is_a_delivery_status_report_with_an_empty_return_path():
    msg = decoded("bounce-dsn")

    assert msg.headers["content-type"].startswith("multipart/report")
    assert "delivery-status" in msg.headers["content-type"]
    assert "<>" == msg.headers["return-path"]


def test_the_reference_email_names_the_case_in_subject_and_body_and_not_in_the_form():
    msg = decoded("reference-in-subject")

    assert CASE_REFERENCE in msg.subject and CASE_REFERENCE in msg.body_text
    assert filled_document("chronology", without=("case_reference",))[1] == msg.attachments[0].data


def test_the_hostile_email_carries_the_hostile_file():
    (found,) = decoded("hostile").attachments

    assert hostile.build("docm renamed docx") == found.data


def test_auth_pass_fail_and_none_give_the_headers_they_say():
    assert "dmarc=pass" in decoded("good-chronology").headers["authentication-results"]
    assert "dmarc=fail" in decoded("unauthenticated").headers["authentication-results"]
    assert "authentication-results" not in decode(mail.unauthenticated_email(auth=None)).headers


# -- the TNEF encoder -----------------------------------------------------------------------


def test_tnefparse_reads_back_what_the_encoder_wrote():
    files = [("Agency summary – Résumé.docx", b"PK\x03\x04 one"), ("GMP chronology.xlsx", b"PK\x03\x04 two" * 100)]

    tnef = TNEF(winmail_dat(files), do_checksum=True)

    assert files == [(a.long_filename(), a.data) for a in tnef.attachments]
    assert all(obj.good_checksum for obj in tnef.objects)
    assert b"Please find the documents attached.\x00" == tnef.body


def test_short_titles_are_8_3_names_and_the_long_name_is_a_mapi_property():
    tnef = TNEF(winmail_dat([("GMP chronology.xlsx", b"data")], short_titles=True))

    (attachment,) = tnef.attachments
    assert ("GMPCHR~1.XLS", "GMP chronology.xlsx") == (attachment.name, attachment.long_filename())


def test_short_name():
    assert ("AGENCY~2.DOC", "README~1") == (short_name("Agency summary.docx", 2), short_name("readme"))


def test_a_tnef_with_no_attachments_reads_as_none():
    assert [] == TNEF(winmail_dat([])).attachments
