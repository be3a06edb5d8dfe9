"""Screening: automated mail is recognised, senders are known, unknown or unauthenticated."""

from __future__ import annotations

import pytest

from core.mail import AuthResult, Automated, InboundMessage
from intake.mime import decode
from intake.screening import AUTHENTICATION_FAILED, NO_SENDER, UNKNOWN_DOMAIN, is_automated, screen
from intake.settings import ScreeningSettings
from tests.fixtures import mail
from tests.fixtures.mail import AUTHSERV_ID, agency_email
from tests.fixtures.sample import FIXTURE_AGENCIES

TRUSTED = ScreeningSettings(trusted_authserv_ids=(AUTHSERV_ID,))
STRICT = ScreeningSettings(trusted_authserv_ids=(AUTHSERV_ID,), require_authentication=True)
SENDER = "casey.lund@police.example.org"


def decoded(raw: bytes) -> InboundMessage:
    return decode(raw, trusted_authserv_ids=TRUSTED.trusted_authserv_ids)


def plain(**headers: str) -> InboundMessage:
    """An ordinary agency email with ``headers`` added (names with "_" for "-")."""
    extra = [(name.replace("_", "-"), value) for name, value in headers.items()]
    return decoded(agency_email(sender=SENDER, subject="SSCP-2025-014 chronology", body="b", extra_headers=extra))


# -- automated mail -------------------------------------------------------------------------


@pytest.mark.parametrize("style", mail.AUTO_REPLY_STYLES)
def test_each_kind_of_auto_reply_is_recognised(style: str):
    assert Automated.AUTO_REPLY == is_automated(decoded(mail.auto_reply_email(style)))


@pytest.mark.parametrize("style", mail.BOUNCE_STYLES)
def test_each_kind_of_bounce_is_recognised(style: str):
    assert Automated.BOUNCE == is_automated(decoded(mail.bounce_email(style)))


@pytest.mark.parametrize("style", mail.LIST_STYLES)
def test_each_kind_of_list_mail_is_recognised(style: str):
    assert Automated.LIST == is_automated(decoded(mail.list_email(style)))


@pytest.mark.parametrize(
    "raw",
    [
        mail.good_form_email("chronology"),
        mail.forwarded_email(),
        mail.winmail_email(),
        mail.covering_email(),
        mail.reference_email(),
        mail.reply_to_email(),
        mail.html_only_email(),
        mail.unknown_sender_email(),
    ],
)
def test_an_ordinary_agency_email_is_not_automated(raw: bytes):
    assert None is is_automated(decoded(raw))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Auto_Submitted": "auto-generated"}, Automated.AUTO_REPLY),
        ({"Auto_Submitted": "auto-replied; owner-email=x@police.example.org"}, Automated.AUTO_REPLY),
        ({"Auto_Submitted": "AUTO-NOTIFIED"}, Automated.AUTO_REPLY),
        ({"Auto_Submitted": "no"}, None),
        ({"Auto_Submitted": "No (a person wrote this)"}, None),
        ({"Precedence": "junk"}, Automated.LIST),
        ({"Precedence": "bulk"}, Automated.LIST),
        ({"Precedence": "list"}, Automated.LIST),
        ({"Precedence": "auto_reply"}, Automated.AUTO_REPLY),
        ({"Precedence": "first-class"}, None),
        ({"X_Autoreply": "yes"}, Automated.AUTO_REPLY),
        ({"X_Autorespond": "x"}, Automated.AUTO_REPLY),
        ({"List_Id": "<x.lists.example.net>"}, Automated.LIST),
        ({"List_Unsubscribe": "<mailto:x@lists.example.net>"}, Automated.LIST),
    ],
)
def test_automated_headers(headers: dict[str, str], expected: Automated | None):
    assert expected == is_automated(plain(**headers))


def test_an_empty_return_path_alone_is_a_bounce():
    raw = agency_email(sender="gateway@police.example.org", subject="Delivery report", body="b", return_path="")

    assert Automated.BOUNCE == is_automated(decoded(raw))


def test_x_auto_response_suppress_alone_is_not_an_auto_reply():
    """Outlook puts it on ordinary mail too: a real submission must not be ignored."""
    assert None is is_automated(plain(X_Auto_Response_Suppress="All"))


def test_an_out_of_office_subject_alone_is_not_an_auto_reply():
    raw = agency_email(sender=SENDER, subject="Out of office: cover arrangements, chronology attached", body="b")

    assert None is is_automated(decoded(raw))


@pytest.mark.parametrize(
    "subject", ["Automatic reply: SSCP-2025-014", "Out of Office: back Monday", "AutoReply: away", "Auto-Reply: away"]
)
def test_x_auto_response_suppress_with_an_automatic_subject_is_an_auto_reply(subject: str):
    raw = agency_email(sender=SENDER, subject=subject, body="b", extra_headers={"X-Auto-Response-Suppress": "All"})

    assert Automated.AUTO_REPLY == is_automated(decoded(raw))


def test_a_bounce_with_auto_submitted_is_still_a_bounce():
    assert Automated.BOUNCE == is_automated(decoded(mail.bounce_email("dsn")))


def test_an_rfc3834_auto_reply_with_a_null_return_path_is_an_auto_reply():
    assert Automated.AUTO_REPLY == is_automated(decoded(mail.auto_reply_email("rfc3834")))


def test_a_postmaster_is_a_bounce():
    raw = agency_email(sender="Postmaster <postmaster@police.example.org>", subject="Delivery failure", body="b")

    assert Automated.BOUNCE == is_automated(decoded(raw))


def test_a_mailer_daemon_without_a_domain_is_a_bounce():
    raw = b"From: MAILER-DAEMON\r\nSubject: Returned mail\r\n\r\nbody"

    assert Automated.BOUNCE == is_automated(decoded(raw))


def test_a_read_receipt_is_an_auto_reply():
    raw = (
        b"From: casey.lund@police.example.org\r\nSubject: Read: SSCP-2025-014\r\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nRead\r\n--b--\r\n"
    )

    assert Automated.AUTO_REPLY == is_automated(decoded(raw))


# -- who sent it ----------------------------------------------------------------------------


def test_a_known_authenticated_sender_is_trusted():
    result = screen(decoded(mail.good_form_email("chronology")), FIXTURE_AGENCIES, STRICT)

    assert (None, ("gmp",), True, None, True) == (
        result.automated,
        result.agencies,
        result.authenticated,
        result.distrust,
        result.known,
    )


def test_an_unknown_domain_is_distrusted():
    result = screen(decoded(mail.unknown_sender_email()), FIXTURE_AGENCIES, TRUSTED)

    assert ((), UNKNOWN_DOMAIN, False) == (result.agencies, result.distrust, result.known)


def test_an_unauthenticated_sender_is_distrusted_when_authentication_is_required():
    result = screen(decoded(mail.unauthenticated_email()), FIXTURE_AGENCIES, STRICT)

    assert (("gmp",), False, AUTHENTICATION_FAILED, False) == (
        result.agencies,
        result.authenticated,
        result.distrust,
        result.known,
    )


def test_mail_with_no_results_at_all_is_unauthenticated():
    result = screen(decoded(mail.unauthenticated_email(auth=None)), FIXTURE_AGENCIES, STRICT)

    assert (False, AUTHENTICATION_FAILED) == (result.authenticated, result.distrust)


def test_an_unauthenticated_sender_is_known_when_authentication_is_not_required():
    result = screen(decoded(mail.unauthenticated_email()), FIXTURE_AGENCIES, TRUSTED)

    assert (("gmp",), False, None, True) == (result.agencies, result.authenticated, result.distrust, result.known)


def test_results_from_an_untrusted_mta_do_not_authenticate():
    raw = agency_email(sender=SENDER, body="b", authserv_id="mx.attacker.example.net")

    result = screen(decoded(raw), FIXTURE_AGENCIES, STRICT)

    assert (False, AUTHENTICATION_FAILED) == (result.authenticated, result.distrust)


def test_a_pass_for_another_domain_does_not_authenticate():
    forged = f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=attacker.example.net; dkim=pass header.d=attacker.example.net"
    raw = agency_email(sender=SENDER, body="b", auth=forged)

    assert AUTHENTICATION_FAILED == screen(decoded(raw), FIXTURE_AGENCIES, STRICT).distrust


def test_an_unknown_domain_is_reported_before_failed_authentication():
    raw = agency_email(sender="pat.doyle@unknown-agency.example.net", body="b", auth="fail")

    assert UNKNOWN_DOMAIN == screen(decoded(raw), FIXTURE_AGENCIES, STRICT).distrust


def test_a_message_with_no_from_has_no_sender():
    result = screen(decoded(b"Subject: hello\r\n\r\nbody"), FIXTURE_AGENCIES, TRUSTED)

    assert ((), NO_SENDER, False) == (result.agencies, result.distrust, result.known)


def test_a_shared_domain_gives_every_agency_on_it():
    result = screen(decoded(mail.shared_domain_email()), FIXTURE_AGENCIES, STRICT)

    assert (
        ("early_help", "education", "childrens_services", "community_safety", "housing", "public_health"),
        None,
        True,
    ) == (result.agencies, result.distrust, result.known)


def test_a_subdomain_of_an_agency_domain_is_that_agency():
    raw = agency_email(sender="duty.desk@mail.police.example.org", body="b")

    assert ("gmp",) == screen(decoded(raw), FIXTURE_AGENCIES, TRUSTED).agencies


def test_a_look_alike_domain_is_unknown():
    raw = agency_email(sender="casey.lund@police.example.org.attacker.example.net", body="b")

    assert UNKNOWN_DOMAIN == screen(decoded(raw), FIXTURE_AGENCIES, TRUSTED).distrust


def test_the_reply_to_has_no_say_in_who_sent_it():
    msg = decoded(mail.reply_to_email())

    assert ("nca",) == screen(msg, FIXTURE_AGENCIES, TRUSTED).agencies


def test_screening_reads_only_the_decoded_message():
    msg = InboundMessage(
        message_id=None,
        sender="sam.okafor@nca.example.org",
        auth=AuthResult(dmarc="pass", authserv_id=AUTHSERV_ID),
    )

    assert (None, ("nca",), True, None) == tuple(
        getattr(screen(msg, FIXTURE_AGENCIES, STRICT), k)
        for k in ("automated", "agencies", "authenticated", "distrust")
    )


def test_an_automated_message_from_a_known_agency_is_still_screened_for_its_sender():
    result = screen(decoded(mail.auto_reply_email("outlook")), FIXTURE_AGENCIES, STRICT)

    assert (Automated.AUTO_REPLY, ("gmp",), None) == (result.automated, result.agencies, result.distrust)
