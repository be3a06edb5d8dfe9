"""The service's commands: run, poll --once, cases open, and the listings (people and scripts).

The listings are the inspection contract other tools read (`--json`); their keys are fixed:
- messages: message_id, sender, received_at, state, case_reference, documents, reply
- cases: reference, kind, opened, child_name, documents [{form, agency, status, version,
  filename, findings}]
- queue: id, reason, sender, case_reference, opened
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from core.cases import CaseKind
from core.errors import ConfigError
from intake.logs import configure
from intake.pipeline import row_id
from intake.service import Service, SystemClock, database_url
from intake.settings import Settings
from storage.db import make_engine, migrate
from storage.uow import UnitOfWork

EXIT_OK, EXIT_FAILED, EXIT_TEMPORARY = 0, 2, 3


def run(settings: Settings) -> int:
    """The daemon, and the web app beside it unless [web] serve_with_daemon is false."""
    from intake.daemon import Daemon

    configure()
    with Service.build(settings) as service:
        serve = None
        if settings.web.serve_with_daemon:
            from intake.webapp import announce_first_admin, build_web, serve_beside

            app = build_web(service)
            announce_first_admin(service)
            serve = serve_beside(app, settings)
        Daemon(service).run_forever(serve=serve)
    return EXIT_OK


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> int:
    """The web app alone (until SIGTERM/SIGINT)."""
    from intake.webapp import announce_first_admin, build_web, make_server

    configure()
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update={"web": settings.web.model_copy(update=overrides)})
    with Service.build(settings) as service:
        app = build_web(service)
        announce_first_admin(service)
        make_server(app, settings).run()
    return EXIT_OK


def poll_once(settings: Settings) -> int:
    """One full cycle. Exit 0 when every mailbox and the outbox were reached; 3 when something
    was temporarily unavailable (it is retried next time; nothing is lost)."""
    configure("WARNING")
    with Service.build(settings) as service:
        report = service.cycle()
    print(
        f"fetched {report.fetched}, recorded {report.recorded}, duplicates {report.duplicates}, "
        f"processed {report.processed}, moved {report.moved}, replies sent {report.sent}"
    )
    for failure in report.failures:
        print(f"temporary failure: {failure}", file=sys.stderr)
    return EXIT_TEMPORARY if report.failures else EXIT_OK


def _uow(settings: Settings) -> UnitOfWork:
    engine = make_engine(database_url(settings))
    migrate(engine)
    return UnitOfWork(engine)


def open_case(settings: Settings, args: argparse.Namespace) -> int:
    clock = SystemClock(settings.service.timezone)
    prefix = settings.forms.case_reference_prefix
    if args.reference is not None:
        from parsers.values import find_case_references

        found = find_case_references(args.reference, prefix)
        if len(found) != 1:
            raise ConfigError(f"--reference must look like {prefix}-YYYY-NNN")
        args.reference = found[0]
    with _uow(settings) as uow:
        if args.reference is not None and uow.cases.get(args.reference) is not None:
            raise ConfigError(f"case {args.reference} already exists")
        case = uow.cases.create(
            CaseKind(args.kind),
            args.child_name.strip(),
            args.child_dob,
            args.aware or clock.today(),
            clock.now(),
            reference=args.reference,
            prefix=prefix,
        )
        uow.audit.record("cli", "case.opened", "case", case.id, {"by_hand": True}, at=clock.now())
        reference = case.reference
        uow.commit()
    print(reference)
    return EXIT_OK


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def listing(settings: Settings, what: str, *, as_json: bool) -> int:
    with _uow(settings) as uow:
        rows = {"messages": _messages, "cases": _cases, "queue": _queue}[what](uow)
    if as_json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1, default=_iso)
        sys.stdout.write("\n")
        return EXIT_OK
    if not rows:
        print({"messages": "no messages yet", "cases": "no cases yet", "queue": "the queue is empty"}[what])
        return EXIT_OK
    for row in rows:
        if what == "cases":
            print(f"{row['reference']}  {row['kind']}  opened {row['opened'][:10]}  {len(row['documents'])} documents")
            for d in row["documents"]:
                rules = ", ".join(d["findings"]) or "no findings"
                print(f"    v{d['version']} {d['form'] or 'unrecognised'} from {d['agency']}: {d['status']} ({rules})")
        else:
            print("  ".join(f"{k}={'-' if v is None else v}" for k, v in row.items()))
    return EXIT_OK


def _case_refs(uow: UnitOfWork) -> dict[int, str]:
    return {row_id(c): c.reference for c in uow.cases.list_all()}


def _messages(uow: UnitOfWork) -> list[dict[str, Any]]:
    refs = _case_refs(uow)
    documents = uow.documents.counts_by_message()
    return [
        {
            "message_id": m.message_id,
            "sender": m.sender,
            "received_at": _iso(m.received_at),
            "state": m.state,
            "case_reference": refs.get(m.case_id) if m.case_id is not None else None,
            "documents": documents.get(row_id(m), 0),
            "reply": m.reply_state,
        }
        for m in uow.messages.list_all()
    ]


def _cases(uow: UnitOfWork) -> list[dict[str, Any]]:
    out = []
    for c in uow.cases.list_all():
        rows = uow.documents.for_case(row_id(c))
        findings = uow.documents.findings_for([row_id(d) for d in rows])
        documents = [
            {
                "form": d.form,
                "agency": d.agency,
                "status": d.status,
                "version": d.version_no,
                "filename": d.filename,
                "findings": [f.rule for f in findings.get(row_id(d), [])],
            }
            for d in rows
        ]
        out.append(
            {
                "reference": c.reference,
                "kind": c.kind,
                "opened": _iso(c.opened_at),
                "child_name": c.child_name,
                "documents": documents,
            }
        )
    return out


def _queue(uow: UnitOfWork) -> list[dict[str, Any]]:
    refs = _case_refs(uow)
    out = []
    for item in uow.queue.list_open():
        message = uow.messages.get(item.message_row_id)
        out.append(
            {
                "id": item.id,
                "reason": item.reason,
                "sender": message.sender if message is not None else None,
                "case_reference": refs.get(item.case_id) if item.case_id is not None else None,
                "opened": _iso(item.opened_at),
            }
        )
    return out
