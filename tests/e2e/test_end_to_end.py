"""The issue's acceptance test: agency emails in a real mailbox become cases, queue items and
replies, run as a person runs the service (`intake --config FILE poll --once`).

Real servers, all on 127.0.0.1 and started by the suite: a private Dovecot (IMAP with
STARTTLS, IMAPS with the test CA file, XOAUTH2 with a static token printed by a command), an
aiosmtpd sink (STARTTLS + AUTH), and PostgreSQL (SQLite for the same flow). The case
SSCP-2025-014 (Child A) is brought over by hand (`intake cases open --reference ...`), the
emails of EXPECTED are delivered into the INBOX in that order, then `poll --once` runs twice:
the first does everything, the second must change nothing.

EXPECTED, at a glance (REF = SSCP-2025-014; "new:KIND" = a case the email opens; the
"case" column is what `messages list` shows, for a queued message the case it relates to):

| email                         | state     | queue reason          | reply | case               |
| ----------------------------- | --------- | --------------------- | ----- | ------------------ |
| summary-missing-learning      | filed     |                       | yes   | REF (v1 needs chg) |
| good-agency-summary           | filed     |                       | yes   | REF (v2 accepted)  |
| resend-identical-bytes        | duplicate |                       | no    |                    |
| forwarded                     | filed     |                       | yes   | REF (v3)           |
| reply-to-elsewhere            | filed     |                       | yes   | REF (v4)           |
| inline-signature-image        | filed     |                       | yes   | REF (v5)           |
| good-chronology               | filed     |                       | yes   | REF                |
| winmail-dat                   | filed     |                       | yes   | REF                |
| html-only                     | filed     |                       | yes   | REF                |
| reference-in-subject-only     | filed     |                       | yes   | REF (needs chg)    |
| two-attachments               | filed     |                       | yes   | REF                |
| camhs-matched-by-child        | filed     |                       | yes   | REF (needs chg)    |
| good-declaration-shared-domain| filed     |                       | yes   | REF                |
| flawed-declaration-unanswered | filed     |                       | yes   | REF (needs chg)    |
| probation-declaration         | filed     |                       | yes   | REF                |
| probation-declaration-flawed  | filed     |                       | yes   | REF (needs chg)    |
| referral-new-child            | filed     |                       | yes   | new:rapid_review   |
| serious-offence-new-child     | filed     |                       | yes   | new:serious_offence|
| good-outcome-new-child        | filed     |                       | yes   | new:good_outcome   |
| good-referral (Child A)       | exception | possible_duplicate    | yes   | REF                |
| good-serious-offence (Child A)| exception | possible_duplicate    | yes   | REF                |
| good-good-outcome (Child A)   | exception | possible_duplicate    | yes   | REF                |
| flawed-chronology-other-child | exception | case_conflict         | yes   | REF                |
| flawed-referral-other-child   | exception | case_conflict         | yes   | REF                |
| letter-not-a-form             | exception | unrecognised_document | yes   | REF                |
| hostile-macro-docx            | exception | unsafe_file           | yes   | REF                |
| reference-to-no-case          | exception | no_case               | yes   |                    |
| covering-email                | exception | no_attachment         | yes   |                    |
| unknown-sender                | exception | unknown_sender        | no    |                    |
| unauthenticated (SPF/DKIM fail)| exception| unknown_sender        | no    |                    |
| auto-reply-outlook            | ignored   |                       | no    |                    |
| auto-reply-rfc3834            | ignored   |                       | no    |                    |
| bounce-dsn                    | ignored   |                       | no    |                    |
| bounce-mailer-daemon          | ignored   |                       | no    |                    |
| list-id                       | ignored   |                       | no    |                    |
| list-precedence-bulk          | ignored   |                       | no    |                    |

Variants, each the whole table: IMAP STARTTLS + password + PostgreSQL; IMAPS (the test CA
file) + password + SQLite; IMAP STARTTLS + XOAUTH2 (a token command printing Dovecot's static
token) + PostgreSQL. Replies always leave over SMTP STARTTLS + AUTH.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any, cast

import pytest

from tests.e2e.conftest import clean_environment, intake_command, write_config
from tests.fixtures import flawed, mail
from tests.fixtures.filler import fill, filled_document
from tests.fixtures.sample import (
    CASE_REFERENCE,
    CHILD_DOB,
    CHILD_NAME,
    NHS_NUMBER,
    complete_events,
    complete_values,
    fixture_context,
)
from tests.services.dovecot import DovecotServer, dovecot  # noqa: F401  (the session fixture)
from tests.services.postgres import PostgresCluster, postgres  # noqa: F401  (the session fixture)
from tests.services.smtp import Received, SmtpSink, TlsFiles, smtp_tls  # noqa: F401  (fixture)

REF = CASE_REFERENCE
SMTP_USER, SMTP_PASSWORD = "intake", "sink-password-93e1"  # invented, for the sink only
REPLY_FROM = mail.PARTNERSHIP

# -- the emails ------------------------------------------------------------------------------

#: invented children for referrals that open new cases (none has an open case)
NEW_CHILDREN = {
    "referral": ("Child B", "2016-02-09", "9990000026"),
    "serious_offence": ("Child C", "2012-07-30", "9990000034"),
    "good_outcome": ("Child D", "2014-12-01", None),
}


def form(form_id: str, *, without: tuple[str, ...] = (), **changes: Any) -> bytes:
    """A complete ``form_id`` document (tests/fixtures/sample.py values) with changes made."""
    values = complete_values(form_id)
    values.update(changes)
    for field_id in without:
        values.pop(field_id, None)
    return fill(fixture_context().catalogue.get(form_id), values)


def new_child_form(form_id: str) -> bytes:
    name, dob, nhs = NEW_CHILDREN[form_id]
    changes: dict[str, Any] = {"child_name": name, "child_dob": dob}
    if nhs is not None:
        changes["child_nhs_number"] = nhs
    return form(form_id, **changes)


def sent_by(key: str, subject: str, files: list[tuple[str, bytes]], **kw: Any) -> bytes:
    person = mail.PEOPLE[key]
    return mail.agency_email(
        sender=person.formatted,
        subject=subject,
        body=f"Hello,\n\nPlease find attached.\n\nKind regards,\n\n{person.name}\n",
        attachments=files,
        **kw,
    )


@dataclass(frozen=True)
class Expect:
    name: str
    build: Callable[[], bytes]
    state: str  # filed | exception | ignored | duplicate
    reason: str | None = None  # the queue item's reason
    reply: bool = False
    #: what `messages list` shows as case_reference: REF, "new:<kind>" or None
    case: str | None = None


def _filed(name: str, build: Callable[[], bytes], case: str = REF) -> Expect:
    return Expect(name, build, "filed", None, True, case)


def _queued(
    name: str, build: Callable[[], bytes], reason: str, *, reply: bool = True, case: str | None = REF
) -> Expect:
    return Expect(name, build, "exception", reason, reply, case)


def _ignored(name: str, build: Callable[[], bytes]) -> Expect:
    return Expect(name, build, "ignored")


EXPECTED: tuple[Expect, ...] = (
    # the NCA's agency summary: incomplete, complete, resent, forwarded...: versions 1-5 (GMP's
    # two-attachment email below brings version 6)
    _filed(
        "summary-missing-learning",
        lambda: sent_by(
            "nca",
            f"{REF} Agency summary report - NCA",
            [("Summary.docx", form("agency_summary", without=("learning",)))],
        ),
    ),
    _filed("good-agency-summary", lambda: mail.good_form_email("agency_summary")),
    Expect("resend-identical-bytes", lambda: mail.identical_resend()[1], "duplicate"),
    _filed("forwarded", mail.forwarded_email),
    _filed("reply-to-elsewhere", mail.reply_to_email),
    _filed("inline-signature-image", mail.inline_image_email),
    # GMP's chronology, five ways
    _filed("good-chronology", lambda: mail.good_form_email("chronology")),
    _filed("winmail-dat", mail.winmail_email),
    _filed("html-only", mail.html_only_email),
    _filed("reference-in-subject-only", mail.reference_email),
    _filed("two-attachments", mail.two_attachments_email),
    # no reference anywhere: matched by the child's name and date of birth
    _filed(
        "camhs-matched-by-child",
        lambda: sent_by(
            "camhs",
            "CAMHS chronology",
            [("CAMHS chronology.xlsx", _camhs_chronology())],
        ),
    ),
    # declarations: the council's shared domain (the form says which agency), and probation
    _filed("good-declaration-shared-domain", lambda: mail.good_form_email("declaration_of_interest")),
    _filed("flawed-declaration-unanswered", lambda: mail.flawed_form_email("declaration-question-unanswered")),
    _filed(
        "probation-declaration",
        lambda: sent_by(
            "probation", f"{REF} declaration of interest", [("DOI.docx", filled_document("declaration_of_interest")[1])]
        ),
    ),
    _filed(
        "probation-declaration-flawed",
        lambda: sent_by(
            "probation",
            f"{REF} declaration (corrected)",
            [("DOI v2.docx", flawed.build("declaration-yes-without-details"))],
        ),
    ),
    # referrals: a new child opens a case of the referral's kind; Child A is a possible duplicate
    _filed(
        "referral-new-child",
        lambda: sent_by("education", "Rapid review referral", [("Referral.docx", new_child_form("referral"))]),
        "new:rapid_review",
    ),
    _filed(
        "serious-offence-new-child",
        lambda: sent_by("education", "Serious offence referral", [("SOR.docx", new_child_form("serious_offence"))]),
        "new:serious_offence_review",
    ),
    _filed(
        "good-outcome-new-child",
        lambda: sent_by("education", "Good outcome referral", [("GOR.docx", new_child_form("good_outcome"))]),
        "new:good_outcome_review",
    ),
    _queued("good-referral", lambda: mail.good_form_email("referral"), "possible_duplicate"),
    _queued("good-serious-offence", lambda: mail.good_form_email("serious_offence"), "possible_duplicate"),
    _queued("good-good-outcome", lambda: mail.good_form_email("good_outcome"), "possible_duplicate"),
    # forms about another child (tests/fixtures/flawed.py plants one) naming Child A's case
    _queued(
        "flawed-chronology-other-child", lambda: mail.flawed_form_email("chronology-out-of-order"), "case_conflict"
    ),
    _queued(
        "flawed-referral-other-child", lambda: mail.flawed_form_email("referral-no-criteria-ticked"), "case_conflict"
    ),
    _queued("letter-not-a-form", lambda: mail.flawed_form_email("letter-not-a-form"), "unrecognised_document"),
    _queued("hostile-macro-docx", mail.hostile_email, "unsafe_file"),
    _queued("reference-to-no-case", lambda: mail.reference_email("SSCP-2024-099"), "no_case", case=None),
    _queued("covering-email", mail.covering_email, "no_attachment", case=None),
    _queued("unknown-sender", mail.unknown_sender_email, "unknown_sender", reply=False, case=None),
    _queued("unauthenticated", mail.unauthenticated_email, "unknown_sender", reply=False, case=None),
    _ignored("auto-reply-outlook", lambda: mail.auto_reply_email("outlook")),
    _ignored("auto-reply-rfc3834", lambda: mail.auto_reply_email("rfc3834")),
    _ignored("bounce-dsn", lambda: mail.bounce_email("dsn")),
    _ignored("bounce-mailer-daemon", lambda: mail.bounce_email("mailer-daemon")),
    _ignored("list-id", lambda: mail.list_email("list-id")),
    _ignored("list-precedence-bulk", lambda: mail.list_email("precedence-bulk")),
)


def _camhs_chronology() -> bytes:
    """CAMHS's chronology of Child A, its case reference left blank (FIELD-REQUIRED)."""
    values = complete_values("chronology")
    values.update(agency="camhs", author_name="Robin Ashby", author_email="robin.ashby@camhs.example.org")
    values.pop("case_reference")
    return fill(fixture_context().catalogue.get("chronology"), values, complete_events(12))


#: (form, agency) -> the statuses of its versions in order, for case REF
REF_DOCUMENTS: dict[tuple[str, str], list[str]] = {
    ("agency_summary", "nca"): ["needs_changes", "accepted", "accepted", "accepted", "accepted", "accepted"],
    ("chronology", "gmp"): ["accepted", "accepted", "accepted", "needs_changes", "accepted"],
    ("chronology", "camhs"): ["needs_changes"],
    ("declaration_of_interest", "childrens_services"): ["accepted", "needs_changes"],
    ("declaration_of_interest", "probation"): ["accepted", "needs_changes"],
}
#: new cases: kind -> (child, form, agency)
NEW_CASES = {
    "rapid_review": (NEW_CHILDREN["referral"][0], "referral"),
    "serious_offence_review": (NEW_CHILDREN["serious_offence"][0], "serious_offence"),
    "good_outcome_review": (NEW_CHILDREN["good_outcome"][0], "good_outcome"),
}

#: what no reply may contain, in any form: every child's name, date of birth and NHS number
PERSONAL: tuple[str, ...] = (
    CHILD_NAME,
    CHILD_DOB,
    "14/06/2015",
    NHS_NUMBER,
    "999 000 0018",
    flawed.CHILD_NAME,
    "Quinnell",
    flawed.CHILD_DOB,
    "27/03/2015",
    flawed.NHS_NUMBER,
    "943 476 5919",
    *(n for child in NEW_CHILDREN.values() for n in child if n),
    "Example Street",
)

# -- running the service, as a person does ----------------------------------------------------


@dataclass(frozen=True)
class Variant:
    id: str
    imap_tls: str  # "starttls" | "ssl"
    login: str  # "password" | "xoauth2"
    database: str  # "postgresql" | "sqlite"


VARIANTS = (
    Variant("imap-starttls-postgresql", "starttls", "password", "postgresql"),
    Variant("imaps-cafile-sqlite", "ssl", "password", "sqlite"),
    Variant("xoauth2-postgresql", "starttls", "xoauth2", "postgresql"),
)


@dataclass
class Run:
    """One variant's run: its config, servers and what each command answered."""

    variant: Variant
    config: Path
    env: dict[str, str]
    cwd: Path
    server: DovecotServer
    user: str
    sink: SmtpSink
    raws: dict[str, bytes] = field(default_factory=dict)
    polls: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    queue: list[dict[str, Any]] = field(default_factory=list)
    replies: list[Received] = field(default_factory=list)
    folders: dict[str, Counter[str]] = field(default_factory=dict)
    #: the same, after a second `poll --once`
    again: dict[str, Any] = field(default_factory=dict)
    #: Dovecot's log lines written while the service ran
    server_log: list[str] = field(default_factory=list)

    def command(self, *args: str) -> list[str]:
        return [*intake_command(), "--config", str(self.config), *args]

    def intake(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=300, check=False
        )

    def listings(self) -> dict[str, list[dict[str, Any]]]:
        """`messages list --json`, `cases list --json`, `queue list --json`, run side by side."""
        running = {
            what: subprocess.Popen(
                self.command(what, "list", "--json"),
                cwd=self.cwd,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for what in ("messages", "cases", "queue")
        }
        out = {}
        for what, process in running.items():
            stdout, stderr = process.communicate(timeout=300)
            assert 0 == process.returncode, stderr
            out[what] = cast(list[dict[str, Any]], json.loads(stdout))
        return out

    def folder_ids(self) -> dict[str, Counter[str]]:
        out = {}
        for folder in ("INBOX", "Processed", "Exceptions"):
            uids = self.server.folder_uids(self.user, folder)
            found = self.server.folder_messages(self.user, folder) if uids else {}
            assert sorted(found) == uids
            out[folder] = Counter(_message_id(raw) for raw in found.values())
        return out

    def snapshot(self) -> dict[str, Any]:
        return {**self.listings(), "replies": len(self.sink.messages), "folders": self.folder_ids()}


def _message_id(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=policy.default)["Message-ID"]).strip()


@pytest.fixture(scope="module")
def raws() -> dict[str, bytes]:
    """Every email of EXPECTED, built once for all variants."""
    built = {e.name: e.build() for e in EXPECTED}
    assert len(built) == len(EXPECTED) >= 30
    return built


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda v: v.id)
def run(
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,  # noqa: F811
    smtp_tls: TlsFiles,  # noqa: F811
    raws: dict[str, bytes],
) -> Iterator[Run]:
    variant: Variant = request.param
    dovecot.start()
    user = dovecot.oauth_user if variant.login == "xoauth2" else dovecot.password_user
    dovecot.reset(user)
    directory = Path(tempfile.mkdtemp(prefix="intake-e2e-"))
    database_url, drop = _database(request, variant, directory)
    sink = SmtpSink(tls="starttls", tls_files=smtp_tls, users={SMTP_USER: SMTP_PASSWORD}).start()
    try:
        imap: dict[str, Any] = {
            "host": dovecot.host,
            "port": dovecot.imaps_port if variant.imap_tls == "ssl" else dovecot.imap_port,
            "tls": variant.imap_tls,
            "username": user,
            "ca_file": dovecot.ca_file,
            "timeout_s": 20.0,
            "idle": False,
        }
        env = clean_environment(INTAKE_SMTP_PASSWORD=SMTP_PASSWORD)
        sections: dict[str, dict[str, Any]] = {
            "service": {"mode": "development", "data_dir": str(directory / "var")},
            "imap": imap,
            "smtp": {
                "host": sink.host,
                "port": sink.port,
                "tls": "starttls",
                "username": SMTP_USER,
                "from_address": REPLY_FROM,
                "ca_file": str(sink.cert),
                "timeout_s": 20.0,
            },
            "database": {"url": database_url},
            "screening": {"trusted_authserv_ids": [mail.AUTHSERV_ID], "require_authentication": True},
        }
        if variant.login == "xoauth2":
            # a token command as an operator would configure one: it prints the static token
            sections["imap.oauth2"] = {"token_command": shlex.join(["/bin/echo", dovecot.oauth_token])}
        else:
            env["INTAKE_IMAP_PASSWORD"] = dovecot.password
        config = directory / "intake.toml"
        write_config(config, sections)
        r = Run(variant, config, env, directory, dovecot, user, sink, raws=raws)

        opened = r.intake(
            "cases", "open", "--kind", "rapid_review", "--child-name", CHILD_NAME, "--child-dob", CHILD_DOB,
            "--reference", REF, "--aware", "2025-10-03",
        )  # fmt: skip
        assert (0, REF) == (opened.returncode, opened.stdout.strip()), opened.stderr
        for e in EXPECTED:
            dovecot.deliver(user, raws[e.name])

        log_start = dovecot.log_file.stat().st_size
        r.polls.append(r.intake("poll", "--once"))
        first = r.snapshot()
        r.messages, r.cases, r.queue, r.folders = first["messages"], first["cases"], first["queue"], first["folders"]
        r.replies = sink.messages
        r.polls.append(r.intake("poll", "--once"))
        r.again = r.snapshot()
        with dovecot.log_file.open("rb") as log:
            log.seek(log_start)
            r.server_log = log.read().decode("utf-8", "replace").splitlines()
        yield r
    finally:
        sink.stop()
        drop()
        shutil.rmtree(directory, ignore_errors=True)


def _database(request: pytest.FixtureRequest, variant: Variant, directory: Path) -> tuple[str, Callable[[], None]]:
    if variant.database == "sqlite":
        return f"sqlite:///{directory / 'intake.sqlite3'}", lambda: None
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    url = cluster.create_database()
    return url, lambda: cluster.drop_database(url.rsplit("/", 1)[1])


# -- helpers over the listings ------------------------------------------------------------------


def by_name(run: Run) -> dict[str, dict[str, Any]]:
    """`messages list` rows by the EXPECTED name (the ledger lists them in arrival order)."""
    assert len(EXPECTED) == len(run.messages)
    return {e.name: m for e, m in zip(EXPECTED, run.messages, strict=True)}


def new_case_references(run: Run) -> dict[str, str]:
    """ "new:<kind>" -> the reference the service gave the case it opened."""
    return {f"new:{c['kind']}": c["reference"] for c in run.cases if c["reference"] != REF}


def parsed(received: Received) -> EmailMessage:
    return message_from_bytes(received.data, policy=policy.default)


def from_address(raw: bytes) -> str:
    return parseaddr(str(message_from_bytes(raw, policy=policy.default)["From"]))[1].lower()


# -- the checks -------------------------------------------------------------------------------


def test_poll_once_exits_0_both_times(run: Run) -> None:
    assert [0, 0] == [p.returncode for p in run.polls], [p.stderr[-2000:] for p in run.polls]


def test_the_service_logged_in_over_tls_with_the_configured_method_at_each_poll(run: Run) -> None:
    method = "XOAUTH2" if run.variant.login == "xoauth2" else "PLAIN"
    logins = [line for line in run.server_log if "imap-login: Info: Login:" in line and f"user=<{run.user}>" in line]
    # the test's own helper connection logs in on the plain port (no TLS); the service never does
    service = [line for line in logins if ", TLS," in line]

    assert len(run.polls) <= len(service)
    assert [f"method={method}"] * len(service) == [re.search(r"method=\w+", line).group(0) for line in service]  # type: ignore[union-attr]


def test_every_email_delivered_is_in_the_ledger_once_in_a_final_state(run: Run) -> None:
    states = [m["state"] for m in run.messages]

    assert len(EXPECTED) == len(states)
    assert "pending" not in states
    assert [_message_id(run.raws[e.name]) for e in EXPECTED] == [m["message_id"] for m in run.messages]


def test_every_email_reaches_the_state_the_table_expects(run: Run) -> None:
    rows = by_name(run)

    assert {e.name: e.state for e in EXPECTED} == {name: m["state"] for name, m in rows.items()}


def test_every_message_names_the_case_the_table_expects(run: Run) -> None:
    rows = by_name(run)
    new = new_case_references(run)

    expected = {e.name: new.get(e.case, e.case) if e.case else None for e in EXPECTED}
    assert expected == {name: m["case_reference"] for name, m in rows.items()}


def test_the_ledger_shows_a_reply_sent_exactly_where_one_is_due(run: Run) -> None:
    rows = by_name(run)

    assert {e.name: "sent" if e.reply else "none" for e in EXPECTED} == {n: m["reply"] for n, m in rows.items()}


def test_the_ledger_counts_the_documents_of_each_message(run: Run) -> None:
    rows = by_name(run)
    expected = {
        e.name: 0 if e.state in ("ignored", "duplicate") or e.reason == "no_attachment" else 1 for e in EXPECTED
    }
    expected["two-attachments"] = 2

    assert expected == {name: m["documents"] for name, m in rows.items()}


def test_the_queue_holds_one_item_per_exception_with_its_reason(run: Run) -> None:
    new = new_case_references(run)
    expected = Counter(
        (e.reason, from_address(run.raws[e.name]), new.get(e.case, e.case) if e.case else None)
        for e in EXPECTED
        if e.state == "exception"
    )

    assert expected == Counter((q["reason"], q["sender"], q["case_reference"]) for q in run.queue)
    assert len(run.queue) == len({q["id"] for q in run.queue})


def test_the_brought_over_case_holds_every_version_with_its_status(run: Run) -> None:
    [case] = [c for c in run.cases if c["reference"] == REF]
    found: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for d in case["documents"]:
        found.setdefault((d["form"], d["agency"]), []).append((d["version"], d["status"]))

    assert ("rapid_review", CHILD_NAME) == (case["kind"], case["child_name"])
    assert {k: list(enumerate(v, 1)) for k, v in REF_DOCUMENTS.items()} == {k: sorted(v) for k, v in found.items()}


def test_accepted_documents_have_no_error_and_the_others_say_why(run: Run) -> None:
    [case] = [c for c in run.cases if c["reference"] == REF]
    by_file = {(d["filename"], d["version"]): d for d in case["documents"]}

    assert [] == by_file[("Agency Summary Report - NCA.docx", 2)]["findings"]
    assert ["FIELD-REQUIRED"] == by_file[("Summary.docx", 1)]["findings"]
    assert ["FIELD-REQUIRED"] == by_file[("Chronology.xlsx", 4)]["findings"]  # its case reference is blank
    assert ["FIELD-REQUIRED"] == by_file[("CAMHS chronology.xlsx", 1)]["findings"]
    assert ["FIELD-REQUIRED"] == by_file[("declaration-unanswered.docx", 2)]["findings"]
    assert "DOI-DETAILS" in by_file[("DOI v2.docx", 2)]["findings"]
    assert all(d["findings"] == [] for d in case["documents"] if d["status"] == "accepted")


def test_each_referral_for_a_new_child_opens_a_case_of_its_kind(run: Run) -> None:
    opened = {
        c["kind"]: (c["child_name"], [(d["form"], d["agency"], d["status"], d["version"]) for d in c["documents"]])
        for c in run.cases
        if c["reference"] != REF
    }

    assert {
        kind: (child, [(form_id, "education", "accepted", 1)]) for kind, (child, form_id) in NEW_CASES.items()
    } == opened
    assert len(NEW_CASES) + 1 == len({c["reference"] for c in run.cases})


def test_exactly_one_reply_goes_to_each_message_that_should_get_one(run: Run) -> None:
    answered = Counter(str(parsed(r)["In-Reply-To"]) for r in run.replies)
    due = Counter(_message_id(run.raws[e.name]) for e in EXPECTED if e.reply)

    assert due == answered


def test_no_reply_goes_to_an_automated_unknown_or_unauthenticated_sender(run: Run) -> None:
    silent = {_message_id(run.raws[e.name]) for e in EXPECTED if not e.reply and e.state != "duplicate"}
    answered = {str(parsed(r)["In-Reply-To"]) for r in run.replies}

    assert set() == silent & answered
    assert set() == {a for r in run.replies for a in r.rcpt_tos} & {
        mail.UNKNOWN.address,
        "news@lists.example.net",
        mail.GMP_COLLEAGUE.address,
    }


def test_each_reply_goes_to_the_from_address_only_threaded_and_marked_automatic(run: Run) -> None:
    originals = {_message_id(run.raws[e.name]): run.raws[e.name] for e in EXPECTED if e.reply}
    for received in run.replies:
        reply = parsed(received)
        original = originals[str(reply["In-Reply-To"])]
        sender = from_address(original)

        assert ((sender,), SMTP_USER) == (received.rcpt_tos, received.login)
        assert sender == parseaddr(str(reply["To"]))[1].lower()
        assert REPLY_FROM == parseaddr(str(reply["From"]))[1]
        assert reply["In-Reply-To"] in str(reply["References"]).split()
        assert ("auto-replied", "All") == (reply["Auto-Submitted"], reply["X-Auto-Response-Suppress"])
        assert reply["Cc"] is None and reply["Reply-To"] is None
        assert not reply.is_multipart()  # no attachment, nothing quoted as a part
    assert all(mail.REPLY_TO_ELSEWHERE not in str(r.data) for r in run.replies)


def test_no_reply_names_a_child_a_date_of_birth_or_an_nhs_number(run: Run) -> None:
    for received in run.replies:
        reply = parsed(received)
        text = "\n".join([*(f"{k}: {v}" for k, v in reply.items()), reply.get_content()])
        raw = received.data.decode("utf-8", "replace")

        assert [] == [p for p in PERSONAL if p.casefold() in text.casefold() or p in raw]


def test_a_reply_names_the_case_it_filed_to(run: Run) -> None:
    rows = by_name(run)
    by_id = {str(parsed(r)["In-Reply-To"]): parsed(r) for r in run.replies}
    for e in EXPECTED:
        if e.state == "filed":
            reply = by_id[_message_id(run.raws[e.name])]
            assert rows[e.name]["case_reference"] in str(reply["Subject"]) + reply.get_content()


def test_the_inbox_is_empty_and_processed_and_exceptions_hold_exactly_the_right_messages(run: Run) -> None:
    processed = Counter(_message_id(run.raws[e.name]) for e in EXPECTED if e.state != "exception")
    exceptions = Counter(_message_id(run.raws[e.name]) for e in EXPECTED if e.state == "exception")

    assert {"INBOX": Counter(), "Processed": processed, "Exceptions": exceptions} == run.folders
    assert len(EXPECTED) == sum(len(run.server.folder_uids(run.user, f)) for f in ("Processed", "Exceptions"))


def test_the_folders_reconcile_with_the_ledger(run: Run) -> None:
    states = Counter(m["state"] for m in run.messages)

    assert states["exception"] == sum(run.folders["Exceptions"].values())
    assert states["filed"] + states["ignored"] + states["duplicate"] == sum(run.folders["Processed"].values())


def test_a_second_poll_files_nothing_twice_and_sends_no_reply_twice(run: Run) -> None:
    first = {
        "messages": run.messages,
        "cases": run.cases,
        "queue": run.queue,
        "replies": len(run.replies),
        "folders": run.folders,
    }

    assert first == run.again
    assert len(run.replies) == len(run.sink.messages)
