"""`intake` for the business unit and for scripts, on the embedded defaults (no mail server):
cases opened by hand, the Maildir inbox polled once, and the inspection contract the listings
promise (intake/commands.py: the keys of every `--json` listing are fixed).

The home of these tests is a temporary data directory with a config.toml naming only it, the
trusted authserv-id and the test agencies: SQLite, the Maildir inbox <data_dir>/mail (emails
are dropped into mail/new as files) and the Maildir outbox <data_dir>/outbox.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import pytest

import intake.commands
from tests.e2e.conftest import clean_environment, intake_command, write_config
from tests.fixtures import mail
from tests.fixtures.sample import CASE_REFERENCE, CHILD_DOB, CHILD_NAME

REFERENCE_SHAPE = re.compile(r"SSCP-\d{4}-\d{3}")
BROUGHT_OVER = "SSCP-2019-007"

#: the inspection contract (issue 3), key for key
MESSAGE_KEYS = {"message_id", "sender", "received_at", "state", "case_reference", "documents", "reply"}
CASE_KEYS = {"reference", "kind", "opened", "child_name", "documents"}
DOCUMENT_KEYS = {"form", "agency", "status", "version", "filename", "findings"}
QUEUE_KEYS = {"id", "reason", "sender", "case_reference", "opened"}
STATES = {"pending", "filed", "exception", "ignored", "duplicate"}
REPLIES = {"none", "queued", "sent"}
STATUSES = {"accepted", "needs_changes", "rejected"}
REASONS = {
    "unknown_sender",
    "no_case",
    "case_conflict",
    "possible_duplicate",
    "unrecognised_document",
    "unsafe_file",
    "no_attachment",
    "processing_fault",
}

#: dropped into the inbox: name -> (builder, expected state)
DROPPED: dict[str, tuple[Callable[[], bytes], str]] = {
    "good-agency-summary": (lambda: mail.good_form_email("agency_summary"), "filed"),
    "reference-in-subject-only": (mail.reference_email, "filed"),
    "covering-email": (mail.covering_email, "exception"),
    "unknown-sender": (mail.unknown_sender_email, "exception"),
    "auto-reply": (lambda: mail.auto_reply_email("rfc3834"), "ignored"),
}


def run(*args: str, cwd: Path, config: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    argv = [*intake_command(), *(["--config", str(config)] if config else []), *args]
    return subprocess.run(
        argv, cwd=cwd, env=clean_environment(**env), capture_output=True, text=True, timeout=300, check=False
    )


def run_all(*commands: tuple[str, ...], cwd: Path, config: Path) -> list[subprocess.CompletedProcess[str]]:
    """Several read-only commands side by side (each is a fresh process)."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: run(*args, cwd=cwd, config=config), commands))


def drop(maildir: Path, name: str, raw: bytes) -> None:
    """Deliver the Maildir way: write into tmp/, then rename into new/."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    unique = f"{dt.datetime.now(dt.UTC).timestamp():.6f}.{name}.example"
    (maildir / "tmp" / unique).write_bytes(raw)
    os.replace(maildir / "tmp" / unique, maildir / "new" / unique)


@dataclass
class Home:
    """A data directory, its config, and what the commands said."""

    directory: Path
    config: Path
    opened: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    poll: subprocess.CompletedProcess[str] | None = None
    json: dict[str, Any] = field(default_factory=dict)
    text: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.directory / "var"

    def intake(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run(*args, cwd=self.directory, config=self.config, **env)


def make_home(directory: Path) -> Home:
    config = write_config(
        directory / "config.toml",
        {
            "service": {"data_dir": str(directory / "var")},
            "screening": {"trusted_authserv_ids": [mail.AUTHSERV_ID]},
        },
    )
    return Home(directory, config)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """Cases opened by hand, five emails dropped and polled once, and every listing taken."""
    h = make_home(tmp_path_factory.mktemp("intake-home"))
    h.opened["brought-over"] = h.intake(
        "cases", "open", "--kind", "rapid_review", "--child-name", CHILD_NAME, "--child-dob", CHILD_DOB,
        "--reference", CASE_REFERENCE, "--aware", "2025-10-03",
    )  # fmt: skip
    # the database exists now: the next two open side by side
    h.opened["new"], h.opened["old-reference"] = run_all(
        ("cases", "open", "--kind", "local_review", "--child-name", "Child E", "--child-dob", "2013-05-05"),
        (
            "cases", "open", "--kind", "serious_offence_review", "--child-name", "Child F",
            "--child-dob", "2011-01-20", "--reference", BROUGHT_OVER,
        ),
        cwd=h.directory,
        config=h.config,
    )  # fmt: skip
    for name, (build, _) in DROPPED.items():
        drop(h.data_dir / "mail", name, build())
    h.poll = h.intake("poll", "--once")
    listings = [(what, "list", *flag) for what in ("messages", "cases", "queue") for flag in (("--json",), ())]
    for args, done in zip(listings, run_all(*listings, cwd=h.directory, config=h.config), strict=True):
        assert 0 == done.returncode, done.stderr
        if "--json" in args:
            h.json[args[0]] = json.loads(done.stdout)
        else:
            h.text[args[0]] = done
    return h


def contract_in_docstring() -> dict[str, set[str]]:
    """The keys intake/commands.py's docstring promises: "- messages: a, b, ..." lines."""
    doc = intake.commands.__doc__ or ""
    found = {}
    for what in ("messages", "cases", "queue"):
        match = re.search(rf"^- {what}: (.+?)(?=^- |^\S|\Z)", doc, re.MULTILINE | re.DOTALL)
        assert match is not None, f"no {what} line in intake/commands.py's docstring"
        found[what] = set(re.findall(r"[a-z_]+", match.group(1)))
    return found


# -- cases open --------------------------------------------------------------------------------


def test_cases_open_prints_the_reference_of_the_case_it_opened(home: Home) -> None:
    done = home.opened["new"]
    reference = done.stdout.strip()

    assert (0, "") == (done.returncode, done.stderr)
    assert REFERENCE_SHAPE.fullmatch(reference)
    assert reference not in (CASE_REFERENCE, BROUGHT_OVER)
    assert [("local_review", "Child E")] == [
        (c["kind"], c["child_name"]) for c in home.json["cases"] if c["reference"] == reference
    ]


def test_cases_open_with_a_reference_brings_the_case_over_under_that_reference(home: Home) -> None:
    done = home.opened["old-reference"]

    assert (0, BROUGHT_OVER) == (done.returncode, done.stdout.strip())
    assert [("serious_offence_review", "Child F", [])] == [
        (c["kind"], c["child_name"], c["documents"]) for c in home.json["cases"] if c["reference"] == BROUGHT_OVER
    ]


def test_a_reference_already_taken_is_refused_with_exit_2_and_a_clear_message(home: Home) -> None:
    done = home.intake(
        "cases", "open", "--kind", "local_review", "--child-name", "Child G", "--child-dob", "2012-02-02",
        "--reference", BROUGHT_OVER,
    )  # fmt: skip

    assert (2, "") == (done.returncode, done.stdout)
    assert f"intake: case {BROUGHT_OVER} already exists" == done.stderr.strip()
    listed = json.loads(home.intake("cases", "list", "--json").stdout)
    assert [("serious_offence_review", "Child F")] == [
        (c["kind"], c["child_name"]) for c in listed if c["reference"] == BROUGHT_OVER
    ]


def test_a_reference_of_the_wrong_shape_is_refused_with_exit_2(tmp_path: Path) -> None:
    h = make_home(tmp_path)

    done = h.intake(
        "cases", "open", "--kind", "local_review", "--child-name", "Child G", "--child-dob", "2012-02-02",
        "--reference", "case 7",
    )  # fmt: skip

    assert 2 == done.returncode
    assert "--reference must look like SSCP-YYYY-NNN" in done.stderr
    assert "Traceback" not in done.stderr


# -- poll --once on the embedded defaults ------------------------------------------------------


def test_poll_once_on_the_embedded_defaults_exits_0_and_empties_the_inbox(home: Home) -> None:
    assert home.poll is not None
    assert 0 == home.poll.returncode, home.poll.stderr
    assert "fetched 5, recorded 5" in home.poll.stdout
    assert [] == list((home.data_dir / "mail" / "new").iterdir())
    assert [] == list((home.data_dir / "mail" / "cur").iterdir())


def test_each_dropped_email_reaches_its_state_and_its_folder(home: Home) -> None:
    states = sorted(state for _, state in DROPPED.values())
    moved = {
        folder: len(list((home.data_dir / "mail" / f".{folder}" / "new").iterdir()))
        + len(list((home.data_dir / "mail" / f".{folder}" / "cur").iterdir()))
        for folder in ("Processed", "Exceptions")
    }

    assert states == sorted(m["state"] for m in home.json["messages"])
    assert {"Processed": states.count("filed") + states.count("ignored"), "Exceptions": states.count("exception")} == (
        moved
    )


def test_replies_land_in_the_maildir_outbox_one_per_answerable_email(home: Home) -> None:
    outbox = home.data_dir / "outbox"
    replies = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for sub in ("new", "cur")
        if (outbox / sub).is_dir()
        for p in (outbox / sub).iterdir()
    ]
    answered = sorted(m["sender"] for m in home.json["messages"] if m["reply"] == "sent")

    assert 3 == len(replies)  # two filed, one covering email; none to the unknown sender or the auto-reply
    assert answered == sorted(str(r["To"]) for r in replies)


def test_poll_once_with_no_config_at_all_runs_on_the_defaults_in_var(tmp_path: Path) -> None:
    done = run("poll", "--once", cwd=tmp_path)

    assert 0 == done.returncode, done.stderr
    assert "fetched 0" in done.stdout
    assert (tmp_path / "var" / "intake.sqlite3").is_file()
    assert (tmp_path / "var" / "storage.key").is_file()


# -- the inspection contract: --json -----------------------------------------------------------


def test_the_contract_in_the_commands_docstring_is_the_issues(home: Home) -> None:
    promised = contract_in_docstring()

    assert MESSAGE_KEYS == promised["messages"]
    assert CASE_KEYS | DOCUMENT_KEYS == promised["cases"]
    assert QUEUE_KEYS == promised["queue"]


def test_messages_list_json_gives_exactly_the_contract_keys_and_values(home: Home) -> None:
    messages = home.json["messages"]

    assert len(DROPPED) == len(messages)
    assert [MESSAGE_KEYS] * len(messages) == [set(m) for m in messages]
    for m in messages:
        assert m["state"] in STATES and m["reply"] in REPLIES
        assert isinstance(m["documents"], int) and isinstance(m["message_id"], str) and "@" in m["sender"]
        assert dt.datetime.fromisoformat(m["received_at"]).tzinfo is not None
        assert m["case_reference"] is None or REFERENCE_SHAPE.fullmatch(m["case_reference"])
    assert "pending" not in {m["state"] for m in messages}


def test_cases_list_json_gives_exactly_the_contract_keys_and_values(home: Home) -> None:
    cases = home.json["cases"]
    documents = [d for c in cases for d in c["documents"]]

    assert 3 == len(cases)
    assert [CASE_KEYS] * len(cases) == [set(c) for c in cases]
    assert [DOCUMENT_KEYS] * len(documents) == [set(d) for d in documents]
    for c in cases:
        assert REFERENCE_SHAPE.fullmatch(c["reference"])
        dt.datetime.fromisoformat(c["opened"])
    for d in documents:
        assert d["status"] in STATUSES and isinstance(d["version"], int)
        assert isinstance(d["findings"], list) and all(isinstance(f, str) for f in d["findings"])
    [brought] = [c for c in cases if c["reference"] == CASE_REFERENCE]
    assert [
        ("agency_summary", "nca", "accepted", 1, "Agency Summary Report - NCA.docx", []),
        ("chronology", "gmp", "needs_changes", 1, "Chronology.xlsx", ["FIELD-REQUIRED"]),
    ] == sorted(
        (d["form"], d["agency"], d["status"], d["version"], d["filename"], d["findings"]) for d in brought["documents"]
    )


def test_queue_list_json_gives_exactly_the_contract_keys_and_values(home: Home) -> None:
    queue = home.json["queue"]

    assert [QUEUE_KEYS] * len(queue) == [set(q) for q in queue]
    assert [
        ("no_attachment", mail.PEOPLE["nca"].address, None),
        ("unknown_sender", mail.UNKNOWN.address, None),
    ] == sorted((q["reason"], q["sender"], q["case_reference"]) for q in queue)
    assert all(q["reason"] in REASONS and isinstance(q["id"], int) for q in queue)
    assert all(dt.datetime.fromisoformat(q["opened"]).tzinfo is not None for q in queue)


# -- the listings for people -------------------------------------------------------------------


def test_cases_list_shows_each_case_and_its_documents_with_their_status(home: Home) -> None:
    text = home.text["cases"].stdout
    today = dt.datetime.now(dt.UTC).date()

    assert 0 == home.text["cases"].returncode
    assert any(
        line.startswith(f"{CASE_REFERENCE}  rapid_review  opened ") and line.endswith("  2 documents")
        for line in text.splitlines()
    )
    assert f"{BROUGHT_OVER}  serious_offence_review  opened " in text
    assert "    v1 agency_summary from nca: accepted (no findings)" in text.splitlines()
    assert "    v1 chronology from gmp: needs_changes (FIELD-REQUIRED)" in text.splitlines()
    assert str(today) in text or str(today - dt.timedelta(days=1)) in text


def test_messages_and_queue_lists_show_one_line_per_row(home: Home) -> None:
    messages = home.text["messages"].stdout.splitlines()
    queue = home.text["queue"].stdout.splitlines()

    assert len(DROPPED) == len(messages)
    assert sorted(state for _, state in DROPPED.values()) == sorted(
        re.search(r"state=(\w+)", line).group(1)  # type: ignore[union-attr]
        for line in messages
    )
    assert 2 == len(queue)
    assert {"reason=no_attachment", "reason=unknown_sender"} == {
        re.search(r"reason=\w+", line).group(0)  # type: ignore[union-attr]
        for line in queue
    }
    assert all("case_reference=-" in line for line in queue)


def test_an_empty_ledger_says_there_is_nothing_to_list(tmp_path: Path) -> None:
    h = make_home(tmp_path)

    first = h.intake("messages", "list")  # makes the empty database; then two side by side
    done = [first, *run_all(("queue", "list"), ("cases", "list", "--json"), cwd=tmp_path, config=h.config)]

    assert [0, 0, 0] == [d.returncode for d in done]
    assert ["no messages yet", "the queue is empty", "[]"] == [d.stdout.strip() for d in done]


# -- production mode ---------------------------------------------------------------------------


def production_config(directory: Path, database_url: str | None) -> Path:
    sections: dict[str, dict[str, Any]] = {
        "service": {"mode": "production", "data_dir": str(directory / "var")},
        "imap": {"host": "127.0.0.1", "port": 9, "tls": "ssl", "username": "intake@partnership.example.org"},
        "smtp": {"host": "127.0.0.1", "port": 9, "tls": "starttls", "from_address": mail.PARTNERSHIP},
        "screening": {"trusted_authserv_ids": [mail.AUTHSERV_ID], "require_authentication": True},
    }
    if database_url is not None:
        sections["database"] = {"url": database_url}
    return write_config(directory / "production.toml", sections)


@pytest.mark.parametrize(
    "database_url", [None, "sqlite:///var/intake.sqlite3"], ids=["no database url", "a sqlite url"]
)
def test_production_mode_refuses_sqlite_with_exit_2_naming_the_setting(
    tmp_path: Path, database_url: str | None
) -> None:
    config = production_config(tmp_path, database_url)

    done = run("poll", "--once", cwd=tmp_path, config=config)

    assert 2 == done.returncode
    assert "database.url must name PostgreSQL in production mode" in done.stderr
    assert "Traceback" not in done.stderr


def test_production_mode_refuses_to_start_without_a_storage_key(tmp_path: Path) -> None:
    # the database is never reached (nothing listens on port 9): the key is checked first
    config = production_config(tmp_path, "postgresql+psycopg://intake@127.0.0.1:9/intake")

    done = run("poll", "--once", cwd=tmp_path, config=config, INTAKE_IMAP_PASSWORD="imap-pw-5e2")

    assert 2 == done.returncode, done.stderr
    assert "INTAKE_STORAGE_KEY" in done.stderr and "storage.key_file" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var" / "storage.key").exists()


def test_an_unreachable_database_is_temporary_for_a_poll_and_a_clear_failure_for_a_listing(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.toml",
        {
            "service": {"data_dir": str(tmp_path / "var")},
            # a loopback port nothing listens on
            "database": {"url": "postgresql+psycopg://nobody@127.0.0.1:9/intake?connect_timeout=2"},
        },
    )
    h = Home(tmp_path, config)

    poll, listing = h.intake("poll", "--once"), h.intake("queue", "list")

    assert (3, 2) == (poll.returncode, listing.returncode)
    for done in (poll, listing):
        assert "the database is unavailable" in done.stderr
        assert "Traceback" not in done.stderr
