"""MIME decoding: headers, bodies, files (through forwards and winmail.dat), limits, trust."""

from __future__ import annotations

import base64
import datetime as dt
import unicodedata
from email import policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import mime
from intake.mime import MimeLimits, decode, safe_filename
from tests.fixtures import mail
from tests.fixtures.mail import AUTHSERV_ID, agency_email
from tests.fixtures.tnef import winmail_dat

TRUSTED = (AUTHSERV_ID,)
SENDER = "casey.lund@police.example.org"


def raw_email(*lines: str) -> bytes:
    return "\r\n".join(lines).encode("utf-8")


def one_attachment(disposition: str, content_type: str = "application/octet-stream") -> bytes:
    return raw_email(
        f"From: {SENDER}",
        "Subject: files",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        "body",
        "--b",
        f"Content-Type: {content_type}",
        f"Content-Disposition: {disposition}",
        "Content-Transfer-Encoding: base64",
        "",
        "UEsDBA==",
        "--b--",
        "",
    )


# -- headers ------------------------------------------------------------------------------


def test_the_from_address_is_lower_cased_and_the_display_name_kept_apart():
    msg = decode(agency_email(sender="Casey Lund <Casey.Lund@Police.Example.ORG>", subject="s", body="b"))

    assert ("casey.lund@police.example.org", "Casey Lund") == (msg.sender, msg.sender_name)


def test_an_encoded_display_name_is_decoded():
    msg = decode(raw_email("From: =?utf-8?q?J=C3=B6rdan_Ellis?= <jordan.ellis@education.example.org>", "", "b"))

    assert "Jördan Ellis" == msg.sender_name


def test_message_id_date_subject_and_references_are_read():
    raw = agency_email(
        sender=SENDER,
        subject="=?utf-8?q?SSCP-2025-014_=E2=80=93_chronology?=",
        body="b",
        message_id="<abc.123@police.example.org>",
        date=dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC),
        extra_headers=[("In-Reply-To", "<r1@partnership.example.org>"), ("References", "<r0@x.example.org> <r1@x>")],
    )

    msg = decode(raw)

    assert "<abc.123@police.example.org>" == msg.message_id
    assert dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC) == msg.date
    assert "SSCP-2025-014 – chronology" == msg.subject
    assert ("<r0@x.example.org>", "<r1@x>") == msg.references
    assert "<r1@partnership.example.org>" == msg.headers["in-reply-to"]


def test_references_fall_back_to_in_reply_to():
    msg = decode(agency_email(sender=SENDER, body="b", extra_headers={"In-Reply-To": "<r1@partnership.example.org>"}))

    assert ("<r1@partnership.example.org>",) == msg.references


def test_a_message_id_without_angle_brackets_is_given_them():
    assert (
        "<abc@x.example.org>"
        == decode(raw_email(f"From: {SENDER}", "Message-ID: abc@x.example.org", "", "b")).message_id
    )


def test_the_reply_to_is_recorded():
    msg = decode(mail.reply_to_email())

    assert (mail.REPLY_TO_ELSEWHERE, "sam.okafor@nca.example.org") == (msg.reply_to, msg.sender)


def test_headers_are_kept_lower_cased_with_their_first_value():
    msg = decode(agency_email(sender=SENDER, body="b", extra_headers=[("X-Thing", "one"), ("X-Thing", "two")]))

    assert "one" == msg.headers["x-thing"]


@pytest.mark.parametrize(
    "from_line",
    [
        "From: ",
        "From: not an address",
        "From: <@>",
        "From: a@b@c",
        "From: Someone <someone@>",
        'From: "unclosed <x@police.example.org>',
        "From: ,,,,",
        "From: =?utf-8?b?!!!?= <>",
    ],
)
def test_an_unreadable_from_gives_no_sender_and_a_problem(from_line: str):
    msg = decode(raw_email(from_line, "Subject: s", "", "b"))

    assert None is msg.sender
    assert mime.BAD_FROM in msg.problems


def test_a_from_with_two_addresses_gives_no_sender():
    msg = decode(raw_email("From: a@police.example.org, b@elsewhere.example.net", "", "b"))

    assert (None, (mime.SEVERAL_FROM,)) == (msg.sender, msg.problems)


def test_a_message_without_from_has_no_sender_and_no_problem():
    msg = decode(raw_email("Subject: s", "", "b"))

    assert (None, ()) == (msg.sender, msg.problems)


def test_a_broken_date_reads_as_none():
    assert None is decode(raw_email(f"From: {SENDER}", "Date: Tuesday next week", "", "b")).date


def test_a_date_without_a_zone_is_taken_as_utc():
    msg = decode(raw_email(f"From: {SENDER}", "Date: Mon, 2 Mar 2026 09:30:00 -0000", "", "b"))

    assert dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC) == msg.date


# -- bodies ---------------------------------------------------------------------------------


def test_the_body_is_the_text_part():
    msg = decode(mail.covering_email())

    assert msg.body_text.startswith("Our agency summary report is with our named doctor")


def test_text_is_preferred_to_html_in_an_alternative():
    msg = decode(mail.inline_image_email())

    assert "<p>" not in msg.body_text
    assert msg.body_text.startswith("Please find attached our agency summary report.")


def test_an_html_only_body_becomes_text_without_tags_scripts_or_styles():
    msg = decode(mail.html_only_email())

    assert "Please find attached our chronology for case SSCP-2025-014." in msg.body_text
    assert "<" not in msg.body_text
    assert "alert" not in msg.body_text
    assert "color" not in msg.body_text


def test_html_entities_are_decoded():
    assert "Tom & Jerry <3" == mime.html_to_text("<p>Tom &amp; Jerry &lt;3</p>")


def test_a_forwarded_message_body_follows_the_outer_body():
    msg = decode(mail.forwarded_email())

    assert msg.body_text.startswith("Forwarding as requested")
    assert "Please find attached our completed form." in msg.body_text


def test_a_body_in_a_declared_charset_is_decoded():
    raw = (
        f"From: {SENDER}\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9".encode("latin-1")
    )

    assert "Café" == decode(raw).body_text


def test_an_unknown_charset_does_not_stop_decoding():
    raw = raw_email(f"From: {SENDER}", "Content-Type: text/plain; charset=x-klingon", "", "hello")

    assert "hello" == decode(raw).body_text


def test_a_long_body_is_cut_with_a_problem():
    msg = decode(agency_email(sender=SENDER, body="word " * 1000), limits=MimeLimits(max_body_chars=100))

    assert (100, (mime.BODY_CUT,)) == (len(msg.body_text), msg.problems)


# -- attachments ----------------------------------------------------------------------------


def test_each_attachment_is_found_with_its_bytes_and_type():
    raw = agency_email(
        sender=SENDER, body="b", attachments=[("GMP chronology.xlsx", b"PK-one"), ("notes.docx", b"PK-two")]
    )

    found = [(a.filename, a.content_type, a.data, a.found_in, a.inline_image) for a in decode(raw).attachments]

    assert [
        ("GMP chronology.xlsx", mail.content_type_of("x.xlsx"), b"PK-one", "attachment", False),
        ("notes.docx", mail.content_type_of("x.docx"), b"PK-two", "attachment", False),
    ] == found


def test_a_part_marked_attachment_without_a_name_is_kept_as_attachment():
    (found,) = decode(one_attachment("attachment")).attachments

    assert ("attachment", b"PK\x03\x04") == (found.filename, found.data)


def test_a_text_file_attachment_is_not_taken_for_the_body():
    raw = agency_email(sender=SENDER, body="the body", attachments=[("notes.txt", b"file text")])

    msg = decode(raw)

    assert ("the body", ["notes.txt"]) == (msg.body_text.strip(), [a.filename for a in msg.attachments])


def test_attachments_inside_a_forwarded_message_are_reached():
    msg = decode(mail.forwarded_email())
    original = decode(mail.good_form_email("agency_summary"))

    (found,) = msg.attachments
    assert ("Agency Summary Report - NCA.docx", "forwarded message") == (found.filename, found.found_in)
    assert original.attachments[0].data == found.data


def test_a_forward_of_a_forward_is_reached():
    twice = agency_email(sender=SENDER, subject="FW: FW:", body="again", forwarded=mail.forwarded_email())

    (found,) = decode(twice).attachments

    assert ("Agency Summary Report - NCA.docx", "forwarded message") == (found.filename, found.found_in)


def test_a_base64_encoded_forward_is_reached():
    inner = base64.encodebytes(mail.good_form_email("chronology")).decode().replace("\n", "\r\n")
    raw = raw_email(
        f"From: {SENDER}",
        'Content-Type: multipart/mixed; boundary="z"',
        "",
        "--z",
        "Content-Type: text/plain",
        "",
        "forwarding",
        "--z",
        "Content-Type: message/rfc822",
        "Content-Transfer-Encoding: base64",
        "",
        inner,
        "--z--",
    )

    assert [("GMP chronology.xlsx", "forwarded message")] == [(a.filename, a.found_in) for a in decode(raw).attachments]


def test_an_attached_eml_file_is_opened_like_a_forward():
    raw = agency_email(
        sender=SENDER, body="b", attachments=[("original.eml", mail.covering_email(), "application/octet-stream")]
    )

    msg = decode(raw)

    assert () == msg.attachments
    assert "will follow by the end of next week" in msg.body_text


def test_files_inside_winmail_dat_are_reached_and_its_body_ignored():
    msg = decode(mail.winmail_email())

    (found,) = msg.attachments
    assert ("GMP chronology.xlsx", "winmail.dat") == (found.filename, found.found_in)
    assert mail.content_type_of("x.xlsx") == found.content_type
    assert found.data.startswith(b"PK")
    assert "winmail" not in msg.body_text.lower()


def test_a_winmail_dat_found_by_name_alone_is_opened():
    tnef = winmail_dat([("Referral.docx", b"PK-referral")])
    raw = agency_email(sender=SENDER, body="b", attachments=[("WINMAIL.DAT", tnef, "application/octet-stream")])

    assert [("Referral.docx", b"PK-referral", "winmail.dat")] == [
        (a.filename, a.data, a.found_in) for a in decode(raw).attachments
    ]


def test_a_broken_winmail_dat_is_kept_as_it_is_with_a_problem():
    raw = agency_email(
        sender=SENDER, body="b", attachments=[("winmail.dat", b"not tnef at all", "application/ms-tnef")]
    )

    msg = decode(raw)

    assert [("winmail.dat", "attachment")] == [(a.filename, a.found_in) for a in msg.attachments]
    assert (mime.BAD_TNEF,) == msg.problems


def test_a_winmail_dat_with_an_unsafe_name_inside_gets_a_safe_name():
    tnef = winmail_dat([("..\\..\\Windows\\system.ini", b"x")])
    raw = agency_email(sender=SENDER, body="b", attachments=[("winmail.dat", tnef, "application/ms-tnef")])

    assert ["system.ini"] == [a.filename for a in decode(raw).attachments]


def test_a_signature_image_is_marked_inline_and_the_form_is_not():
    msg = decode(mail.inline_image_email())

    assert [("image001.png", True), ("Agency Summary Report - NCA.docx", False)] == [
        (a.filename, a.inline_image) for a in msg.attachments
    ]


def test_an_image_with_a_content_id_but_no_name_is_inline():
    raw = raw_email(
        f"From: {SENDER}",
        'Content-Type: multipart/related; boundary="b"',
        "",
        "--b",
        "Content-Type: text/html",
        "",
        '<img src="cid:logo">',
        "--b",
        "Content-Type: image/png",
        "Content-ID: <logo>",
        "Content-Transfer-Encoding: base64",
        "",
        "iVBORw0KGgo=",
        "--b--",
    )

    assert [("attachment", True)] == [(a.filename, a.inline_image) for a in decode(raw).attachments]


def test_an_image_attached_as_a_file_is_not_inline():
    raw = agency_email(sender=SENDER, body="b", attachments=[("scan.png", b"\x89PNG")])

    assert [False] == [a.inline_image for a in decode(raw).attachments]


# -- file names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("C:\\Users\\casey\\Referral.docx", "Referral.docx"),
        ("C:Referral.docx", "Referral.docx"),
        ("/absolute/path/report.docx", "report.docx"),
        ("..", "attachment"),
        ("", "attachment"),
        (".hidden.docx", "hidden.docx"),
        ("report.docx.", "report.docx"),
        ("report.docx:stream", "report.docx_stream"),
        ("re\x00po\x07rt\r\n.docx", "report.docx"),
        ("evil\u202excod.exe", "evilxcod.exe"),
        ("  spaced   out .docx ", "spaced out .docx"),
        ("=?utf-8?q?R=C3=A9sum=C3=A9.docx?=", "Résumé.docx"),
        ("=?utf-8?b?Li4vLi4vZXRjL3Bhc3N3ZA==?=", "passwd"),
        ("=?broken?=", "=?broken?="),
    ],
)
def test_file_names_are_made_safe(given: str, safe: str):
    assert safe == safe_filename(given)


def test_a_long_file_name_is_capped_keeping_its_extension():
    name = safe_filename("x" * 500 + ".docx")

    assert (150, True) == (len(name), name.endswith(".docx"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_no_file_name_is_ever_a_path(name: str):
    safe = safe_filename(name)

    assert safe and "/" not in safe and "\\" not in safe and ":" not in safe
    assert not safe.startswith(".")
    assert len(safe) <= 150
    assert all(ord(c) >= 32 and c != "\x7f" for c in safe)


def test_a_traversal_name_in_a_message_is_made_safe():
    raw = one_attachment('attachment; filename="../../etc/passwd"')

    assert ["passwd"] == [a.filename for a in decode(raw).attachments]


def test_an_encoded_word_name_in_a_message_is_decoded():
    raw = one_attachment('attachment; filename="=?utf-8?q?Chronologie_=C3=A9t=C3=A9.xlsx?="')

    assert ["Chronologie été.xlsx"] == [a.filename for a in decode(raw).attachments]


def test_an_rfc2231_name_in_a_message_is_decoded():
    raw = one_attachment("attachment; filename*=utf-8''%E2%82%AC%20costs%2F..%2Freport.docx")

    assert ["report.docx"] == [a.filename for a in decode(raw).attachments]


def test_a_name_given_only_in_content_type_is_used():
    raw = one_attachment("attachment", 'application/octet-stream; name="Referral.docx"')

    assert ["Referral.docx"] == [a.filename for a in decode(raw).attachments]


def test_a_non_ascii_name_written_by_the_builder_survives():
    raw = agency_email(sender=SENDER, body="b", attachments=[("Référé – chronology.xlsx", b"PK")])

    assert ["Référé – chronology.xlsx"] == [a.filename for a in decode(raw).attachments]


# -- limits ---------------------------------------------------------------------------------


def many_files(count: int) -> bytes:
    return agency_email(sender=SENDER, body="b", attachments=[(f"f{i}.docx", b"PK") for i in range(count)])


def test_too_many_parts_stops_with_a_problem():
    msg = decode(many_files(20), limits=MimeLimits(max_parts=10))

    assert mime.TOO_MANY_PARTS in msg.problems
    assert 8 == len(msg.attachments)  # the container and the body are parts too


def test_too_many_attachments_keeps_the_first_with_a_problem():
    msg = decode(many_files(12), limits=MimeLimits(max_attachments=10))

    assert ((mime.TOO_MANY_ATTACHMENTS,), 10) == (msg.problems, len(msg.attachments))


def test_too_large_an_attachment_is_left_out_with_a_problem():
    raw = agency_email(sender=SENDER, body="b", attachments=[("big.docx", b"x" * 5000), ("small.docx", b"PK")])

    msg = decode(raw, limits=MimeLimits(max_attachment_bytes=1000))

    assert ((mime.ATTACHMENT_TOO_LARGE,), ["small.docx"]) == (msg.problems, [a.filename for a in msg.attachments])


def test_too_deep_a_nest_of_forwards_stops_with_a_problem():
    raw = mail.good_form_email("chronology")
    for _ in range(6):
        raw = agency_email(sender=SENDER, subject="FW", body="fw", forwarded=raw)

    msg = decode(raw, limits=MimeLimits(max_depth=8))

    assert (mime.TOO_DEEP in msg.problems, ()) == (True, msg.attachments)


def nested_multiparts(depth: int) -> bytes:
    lines = [f"From: {SENDER}"]
    for i in range(depth):
        lines += [f'Content-Type: multipart/mixed; boundary="b{i}"', "", f"--b{i}"]
    lines += ["Content-Type: text/plain", "", "deep"]
    lines += [f"--b{i}--" for i in reversed(range(depth))]
    return raw_email(*lines)


def test_deeply_nested_multiparts_stop_with_a_problem():
    msg = decode(nested_multiparts(100))

    assert (SENDER, (mime.TOO_DEEP,)) == (msg.sender, msg.problems)


def test_thousands_of_nested_multiparts_keep_the_headers_and_nothing_else():
    msg = decode(nested_multiparts(3000))

    assert (SENDER, (mime.TOO_MANY_PARTS,), "") == (msg.sender, msg.problems, msg.body_text)


def test_a_hundred_thousand_parts_are_refused_before_parsing():
    parts = "".join("--b\r\n\r\nx\r\n" for _ in range(100_000))
    raw = f'From: {SENDER}\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n{parts}--b--\r\n'.encode()

    msg = decode(raw)

    assert (SENDER, (mime.TOO_MANY_PARTS,)) == (msg.sender, msg.problems)


def test_too_large_a_message_keeps_its_headers_and_nothing_else():
    raw = agency_email(sender=SENDER, subject="big", body="b", attachments=[("big.docx", b"x" * 20_000)])

    msg = decode(raw, limits=MimeLimits(max_bytes=10_000))

    assert (SENDER, "big", (), (mime.TOO_LARGE,)) == (msg.sender, msg.subject, msg.attachments, msg.problems)


def test_the_default_limits_are_the_documented_ones():
    assert (40 * 2**20, 200, 8, 30, 25 * 2**20) == (
        MimeLimits().max_bytes,
        MimeLimits().max_parts,
        MimeLimits().max_depth,
        MimeLimits().max_attachments,
        MimeLimits().max_attachment_bytes,
    )


# -- malformed mail -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02\xff\xfe",
        b"no headers at all, just text",
        b"From: \xff\xfe@\x80\r\n\r\nbody",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary given",
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nunterminated',
        b"Content-Type: message/rfc822\r\n\r\nnot a message",
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n====!!!=",
        b"Content-Type: application/ms-tnef\r\n\r\n\x78\x9f\x3e\x22\x00\x00\x01\x01\x00",
        b'Content-Type: text/plain; charset="\r\n\r\nx',
        b"Content-Disposition: attachment; filename*=bogus''%ZZ%\r\n\r\nx",
        b"Content-Disposition: attachment; filename*0*=utf-8''a; filename*2=b\r\n\r\nx",
        b"Message-ID: <<<>>>\r\nReferences: <a> <b\r\nDate: 99 Foo 99999 99:99:99 +9999\r\n\r\n",
        b"Authentication-Results: ;;;;(((\r\n\r\n",
        b"Authentication-Results: mx.partnership.example.org; spf\r\n\r\n",
        b"From: " + b"a" * 100_000 + b"@police.example.org\r\n\r\n",
        b"Subject: =?utf-8?q?broken\r\nFrom: =?x-unknown?b?AAAA?= <a@b.example.org>\r\n\r\n",
        b"From: " + b"(" * 5000 + b"\r\n\r\n",
        b"To: " + b"<" * 5000 + b"\r\n\r\n",
    ],
)
def test_malformed_messages_do_not_raise(raw: bytes):
    msg = decode(raw, trusted_authserv_ids=TRUSTED)

    assert isinstance(msg.problems, tuple)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_no_bytes_make_decode_raise(raw: bytes):
    decode(raw, trusted_authserv_ids=TRUSTED)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"From: ",
                b"a@b.example.org",
                b"\r\n",
                b"Content-Type: ",
                b"multipart/mixed;",
                b' boundary="x"',
                b"--x",
                b"--x--",
                b"message/rfc822",
                b"=?utf-8?q?",
                b"?=",
                b"Content-Disposition: attachment; filename=",
                b"\r\n\r\n",
                b"base64",
                b"AAAA",
            ]
        ),
        max_size=60,
    )
)
def test_no_jumble_of_mime_pieces_makes_decode_raise(pieces: list[bytes]):
    decode(b"".join(pieces), trusted_authserv_ids=TRUSTED)


# -- authentication results -----------------------------------------------------------------


def test_results_from_the_trusted_mta_are_believed():
    msg = decode(mail.good_form_email("chronology"), trusted_authserv_ids=TRUSTED)

    assert ("pass", "pass", "pass", AUTHSERV_ID, True) == (
        msg.auth.spf,
        msg.auth.dkim,
        msg.auth.dmarc,
        msg.auth.authserv_id,
        msg.auth.passed,
    )


def test_results_are_not_believed_without_trusted_ids():
    msg = decode(mail.good_form_email("chronology"))

    assert (None, None, None, None, False) == (
        msg.auth.spf,
        msg.auth.dkim,
        msg.auth.dmarc,
        msg.auth.authserv_id,
        msg.auth.passed,
    )


def test_results_from_another_authserv_id_are_not_believed():
    raw = mail.agency_email(sender=SENDER, body="b", authserv_id="mx.attacker.example.net")

    auth = decode(raw, trusted_authserv_ids=TRUSTED).auth

    assert (None, None, False) == (auth.authserv_id, auth.dmarc, auth.passed)


def test_failed_results_are_recorded_as_failed():
    msg = decode(mail.unauthenticated_email(), trusted_authserv_ids=TRUSTED)

    assert ("fail", "fail", "fail", False) == (msg.auth.spf, msg.auth.dkim, msg.auth.dmarc, msg.auth.passed)


def test_only_the_first_trusted_header_counts():
    forged = f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=police.example.org; dmarc=pass header.from=police.example.org"
    raw = agency_email(sender=SENDER, body="b", auth="fail", extra_headers=[("Authentication-Results", forged)])

    auth = decode(raw, trusted_authserv_ids=TRUSTED).auth

    assert (False, "fail", "fail") == (auth.passed, auth.spf, auth.dmarc)


def test_a_trusted_id_is_matched_without_regard_to_case():
    raw = agency_email(sender=SENDER, body="b", authserv_id="MX.Partnership.Example.ORG")

    assert decode(raw, trusted_authserv_ids=TRUSTED).auth.passed


def test_results_with_comments_versions_and_quotes_are_parsed():
    value = (
        f'{AUTHSERV_ID} 1; spf=pass (sender (nested) ok; really) smtp.mailfrom="x@police.example.org"; '
        'dkim/1=pass reason="a;b" header.d=police.example.org; dmarc = pass header.from=police.example.org'
    )
    assert (AUTHSERV_ID, [("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass")]) == (
        mime.parse_authentication_results(value)[0],
        [(m, r) for m, r, _ in mime.parse_authentication_results(value)[1]],
    )


def test_a_pass_for_someone_elses_domain_is_not_a_pass():
    value = (
        f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=attacker.example.net; dkim=pass header.d=attacker.example.net; "
        "dmarc=pass header.from=attacker.example.net"
    )
    msg = decode(agency_email(sender=SENDER, body="b", auth=value), trusted_authserv_ids=TRUSTED)

    assert ("unaligned", "unaligned", "unaligned", False) == (
        msg.auth.spf,
        msg.auth.dkim,
        msg.auth.dmarc,
        msg.auth.passed,
    )


def test_a_pass_for_a_subdomain_of_the_sender_aligns():
    value = f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=bounce.police.example.org; dkim=pass header.d=police.example.org"

    assert decode(agency_email(sender=SENDER, body="b", auth=value), trusted_authserv_ids=TRUSTED).auth.passed


def test_one_passing_dkim_signature_among_several_is_a_pass():
    value = f"{AUTHSERV_ID}; dkim=fail header.d=police.example.org; dkim=pass header.d=police.example.org; spf=pass"

    assert "pass" == decode(agency_email(sender=SENDER, body="b", auth=value), trusted_authserv_ids=TRUSTED).auth.dkim


# -- the decoding shortcuts give what the email package gives -------------------------------

_HEADER_TEXT = st.text(alphabet=st.characters(codec="ascii"), max_size=120)


@given(
    name=st.sampled_from(["Subject", "X-Mailer", "Received", "Auto-Submitted", "List-Id", "Comments"]), raw=_HEADER_TEXT
)
def test_an_ascii_unstructured_header_reads_as_the_email_package_parses_it(name: str, raw: str) -> None:
    assert str(policy.default.header_fetch_parse(name, raw)) == mime._header_value(mime._policy(), name, raw)


@given(text=st.text(max_size=200))
def test_cleaning_text_replaces_exactly_the_control_characters(text: str) -> None:
    expected = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text).strip()
    assert expected == mime._clean_text(text)
