"""The `intake` command.

    intake [--config FILE] check [--json] [--received DATE] FILE...
    intake [--config FILE] templates build DIR
    intake [--config FILE] run                      the daemon (until SIGTERM)
    intake [--config FILE] poll --once              one full cycle, then exit
    intake [--config FILE] cases open --kind KIND --child-name NAME --child-dob DATE
                                      [--reference REF] [--aware DATE]
    intake [--config FILE] cases list [--json]
    intake [--config FILE] messages list [--json]
    intake [--config FILE] queue list [--json]
    intake [--config FILE] serve [--host HOST] [--port PORT]   the web app alone
    intake [--config FILE] users add EMAIL --role ROLE       a web app account (password on stdin,
                                                             or a one-time password printed)

Exit status: 0 when no document has an error finding, 1 when one does, 2 when the command
itself could not run (bad arguments, unreadable config, a file that does not exist).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import OperationalError

from core.cases import CaseKind
from core.errors import IntakeError
from intake.settings import Settings, config_path, load_settings

EXIT_OK, EXIT_FINDINGS, EXIT_FAILED, EXIT_TEMPORARY = 0, 1, 2, 3


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("give the date as YYYY-MM-DD") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="intake",
        description="Intake service of the safeguarding partnership: reads, checks and files returns.",
    )
    p.add_argument("--config", help="settings file (default: $INTAKE_CONFIG, then ./config.toml)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check", help="read and check returned documents")
    c.add_argument("--json", action="store_true", help="print a JSON array, one object per file")
    c.add_argument(
        "--received",
        type=_date,
        default=None,
        help="the day the documents arrived (YYYY-MM-DD; default today)",
    )
    c.add_argument("files", nargs="+", metavar="FILE")

    t = sub.add_parser("templates", help="the blank templates agencies download")
    tsub = t.add_subparsers(dest="templates_command", required=True, metavar="ACTION")
    b = tsub.add_parser("build", help="write every current form's blank template into DIR")
    b.add_argument("directory", metavar="DIR")

    sub.add_parser("run", help="run the daemon: poll the mailboxes, file, reply (until SIGTERM)")
    poll = sub.add_parser("poll", help="poll every mailbox once, process, move, send the outbox")
    poll.add_argument("--once", action="store_true", required=True, help="one full cycle, then exit")

    cases = sub.add_parser("cases", help="the partnership's cases")
    csub = cases.add_subparsers(dest="cases_command", required=True, metavar="ACTION")
    opening = csub.add_parser("open", help="open a case by hand (a notification by phone, a case brought over)")
    opening.add_argument("--kind", required=True, choices=[k.value for k in CaseKind])
    opening.add_argument("--child-name", required=True, help="the child's name or agreed identifier")
    opening.add_argument("--child-dob", required=True, type=_date, help="YYYY-MM-DD")
    opening.add_argument("--reference", help="an existing reference (SSCP-YYYY-NNN) brought over")
    opening.add_argument("--aware", type=_date, help="the day the partnership became aware (default today)")
    _json_flag(csub.add_parser("list", help="every case with its documents"))

    messages = sub.add_parser("messages", help="the message ledger")
    msub = messages.add_subparsers(dest="messages_command", required=True, metavar="ACTION")
    _json_flag(msub.add_parser("list", help="every message seen and its state"))

    queue = sub.add_parser("queue", help="the exception queue")
    qsub = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    _json_flag(qsub.add_parser("list", help="open items"))

    serve = sub.add_parser("serve", help="run the web app alone (uvicorn; default 127.0.0.1:8000)")
    serve.add_argument("--host", help="address to listen on (default [web] host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default [web] port, 8000)")

    users = sub.add_parser("users", help="the web app's accounts")
    usub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    adding = usub.add_parser(
        "add", help="add an account: the password from standard input, or a one-time password printed"
    )
    adding.add_argument("email", metavar="EMAIL")
    adding.add_argument("--role", required=True, choices=["admin", "business_unit", "viewer"])
    return p


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(config_path(args.config))
        if args.command == "check":
            return _check(settings, args)
        if args.command == "templates":
            return _templates(settings, Path(args.directory))
        from intake import commands

        if args.command == "run":
            return commands.run(settings)
        if args.command == "poll":
            return commands.poll_once(settings)
        if args.command == "cases" and args.cases_command == "open":
            return commands.open_case(settings, args)
        if args.command == "serve":
            return commands.serve(settings, host=args.host, port=args.port)
        if args.command == "users" and args.users_command == "add":
            from intake import users

            return users.add(settings, args.email, args.role)
        if args.command in ("cases", "messages", "queue"):
            return commands.listing(settings, args.command, as_json=args.json)
    except IntakeError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OperationalError as exc:
        # the database is down or locked: temporary for a poll (nothing is lost), a failure
        # for a command a person typed; the message names the kind of fault, not the SQL
        print(f"intake: the database is unavailable ({type(exc.orig).__name__})", file=sys.stderr)
        return EXIT_TEMPORARY if args.command == "poll" else EXIT_FAILED
    return EXIT_FAILED


def _check(settings: Settings, args: argparse.Namespace) -> int:
    from intake.checking import DocumentChecker
    from intake.report import as_json, as_text

    paths = [Path(f) for f in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"intake: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_FAILED
    received = args.received or dt.date.today()
    catalogue = settings.forms_context().catalogue
    results = []
    with DocumentChecker(settings) as checker:
        for path in paths:
            results.append(checker.check(path.read_bytes(), path.name, received))
    if args.json:
        json.dump([as_json(r, catalogue) for r in results], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(as_text(r, catalogue) for r in results))
    return EXIT_FINDINGS if any(r.has_errors for r in results) else EXIT_OK


def _templates(settings: Settings, directory: Path) -> int:
    from parsers.templates import build_all

    directory.mkdir(parents=True, exist_ok=True)
    written = build_all(settings.forms_context().catalogue, directory)
    for path in written:
        print(path)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
