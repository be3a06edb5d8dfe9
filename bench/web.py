"""The web app's pages on a full database, from a client over loopback (issue 4, "Performance").

    .venv/bin/python -m bench.web [--requests 200] [--warmup 20] [--cases 2000] [--open-items 10000]

Target: with 10,000 open items and 2,000 cases in PostgreSQL, the queue page, an item page and
a case page each answer in under 150 ms at the 95th percentile, measured from a client over
loopback, printed beside the time of a bare SELECT of the same rows in the same run.

It starts its own PostgreSQL cluster (tests/services/postgres.py, fsync and synchronous commit
ON unless ``--no-durable``: each page view commits an audit entry, as in production), builds
the service on it (intake.service.Service.build: migrated), bulk-loads the data with COPY
(bench/web_data.py), stores real originals (tests/fixtures/mail.py) for the items it will
visit, so the item page reads and decrypts them as it does in use, and makes a signed-in
business_unit user with a server-side session. The real app (intake.webapp.build_web) is
served by uvicorn in a thread on a free 127.0.0.1 port; the client (httpx, keep-alive, the
session cookie) warms up, then asks ``--requests`` pages of each kind, interleaved:

- queue: the first page; filtered (by reason, by agency, by a search); sorted newest first
  and by agency; pages 50 and 100;
- item: random open items;
- case: random cases.

Each page must come back 200 with its content (never a redirect or an error page). Beside
each page, in the same loop, the bare SELECTs of the same rows (the page's items, the item's
message, documents, findings, replies and history, the case's returns, documents, findings,
items and history) through the engine. p50/p95/p99 per kind; the ratio page p95 / SELECT
p95. Results go to bench/results/web.json; the last line says "all targets met" or which
missed, and the exit status is 1 when one missed. The cluster and the server are stopped at
the end (the postmaster by its PID). The figures are noisy: 2 cores, shared.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Connection, Engine, text

from bench.web_data import AGENCIES, Dataset, load
from tests.services.postgres import PostgresCluster, free_port, start_cluster

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 150.0
PAGE_KINDS = ("queue", "item", "case")
USER_EMAIL = "bench.officer@example.org"
PASSWORD = "a long bench password for the officer"
PER_PAGE = 50
HISTORY_LIMIT = 1000


# -- measuring --------------------------------------------------------------------------------


def percentile(values: list[float], p: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def summary_ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 1),
        "p95": round(percentile(ms, 95), 1),
        "p99": round(percentile(ms, 99), 1),
        "max": round(max(ms), 1),
    }


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


@dataclass
class Sample:
    page: list[float] = field(default_factory=list)
    select: list[float] = field(default_factory=list)
    by_variant: dict[str, list[float]] = field(default_factory=dict)


# -- the bare SELECTs of a page's rows ---------------------------------------------------------

QUEUE_ORDER = {
    "oldest": "i.opened_at, i.id",
    "newest": "i.opened_at DESC, i.id DESC",
    "agency": "i.agency IS NULL, i.agency, i.opened_at, i.id",
    "reason": "i.reason, i.opened_at, i.id",
}


def select_queue(conn: Connection, params: dict[str, str]) -> int:
    """The rows of one queue page: the items with their message's sender and subject, their
    case's reference and their documents' count."""
    where = ["i.status = 'open'"]
    binds: dict[str, Any] = {}
    if params.get("reason"):
        where.append("i.reason = :reason")
        binds["reason"] = params["reason"]
    if params.get("agency"):
        where.append("i.agency = :agency")
        binds["agency"] = params["agency"]
    if params.get("q"):
        where.append("(m.subject ILIKE :q OR m.sender ILIKE :q OR c.reference ILIKE :q)")
        binds["q"] = f"%{params['q']}%"
    binds["offset"] = (int(params.get("page", "1")) - 1) * PER_PAGE
    order = QUEUE_ORDER[params.get("sort", "oldest")]
    joins = (
        "JOIN messages m ON m.id = i.message_row_id LEFT JOIN cases c ON c.id = i.case_id " if params.get("q") else ""
    )
    # the page's ids on the items alone, then their rows (the cheapest plain form)
    sql = (
        "SELECT i.id, i.reason, i.agency, i.opened_at, m.sender, m.subject, c.reference, "
        "(SELECT count(*) FROM documents d WHERE d.message_row_id = i.message_row_id) "
        f"FROM (SELECT i.id FROM exception_items i {joins}WHERE {' AND '.join(where)} ORDER BY {order} "
        f"LIMIT {PER_PAGE} OFFSET :offset) AS p JOIN exception_items i ON i.id = p.id "
        "JOIN messages m ON m.id = i.message_row_id LEFT JOIN cases c ON c.id = i.case_id "
        f"ORDER BY {order}"
    )
    return len(conn.execute(text(sql), binds).all())


def _history_rows(conn: Connection, entities: dict[str, list[str]]) -> int:
    clauses: list[str] = []
    binds: dict[str, Any] = {}
    for n, (entity, ids) in enumerate(entities.items()):
        if ids:
            clauses.append(f"(entity = :e{n} AND entity_id = ANY(:ids{n}))")
            binds[f"e{n}"], binds[f"ids{n}"] = entity, ids
    sql = (
        f"SELECT * FROM audit_log WHERE ({' OR '.join(clauses)}) "
        "AND action NOT LIKE '%.viewed' AND action NOT LIKE '%.downloaded' "
        f"ORDER BY at DESC, id DESC LIMIT {HISTORY_LIMIT}"
    )
    return len(conn.execute(text(sql), binds).all())


def select_item(conn: Connection, item_id: int) -> int:
    """An item's rows: the item with its message and case; the message's documents (with their
    values) and their findings; its replies; its history."""
    row = conn.execute(
        text(
            "SELECT i.*, m.*, c.reference FROM exception_items i JOIN messages m ON m.id = i.message_row_id "
            "LEFT JOIN cases c ON c.id = i.case_id WHERE i.id = :id"
        ),
        {"id": item_id},
    ).one()
    message_id = row.message_row_id
    docs = conn.execute(
        text("SELECT id, filename, form, version, agency, status, values FROM documents WHERE message_row_id = :m"),
        {"m": message_id},
    ).all()
    doc_ids = [d.id for d in docs]
    findings = conn.execute(text("SELECT * FROM findings WHERE document_id = ANY(:ids)"), {"ids": doc_ids}).all()
    replies = conn.execute(text("SELECT id, state FROM outbox WHERE message_row_id = :m"), {"m": message_id}).all()
    siblings = [
        str(r.id)
        for r in conn.execute(text("SELECT id FROM exception_items WHERE message_row_id = :m"), {"m": message_id})
    ]
    history = _history_rows(
        conn, {"exception_item": siblings, "message": [str(message_id)], "document": [str(d) for d in doc_ids]}
    )
    return 1 + len(docs) + len(findings) + len(replies) + history


def select_case(conn: Connection, reference: str) -> int:
    """A case's rows: the case; its expected returns; its documents (no values: the case page
    lists them) and their findings; its items; its history."""
    case = conn.execute(text("SELECT * FROM cases WHERE reference = :r"), {"r": reference}).one()
    returns = conn.execute(text("SELECT * FROM expected_returns WHERE case_id = :c"), {"c": case.id}).all()
    docs = conn.execute(
        text(
            "SELECT id, message_row_id, filename, form, version, agency, status, version_no, current "
            "FROM documents WHERE case_id = :c"
        ),
        {"c": case.id},
    ).all()
    doc_ids = [d.id for d in docs]
    findings = conn.execute(text("SELECT * FROM findings WHERE document_id = ANY(:ids)"), {"ids": doc_ids}).all()
    items = conn.execute(
        text(
            "SELECT i.id, i.reason, i.agency, i.opened_at, i.status, i.message_row_id, m.sender, m.subject "
            "FROM exception_items i JOIN messages m ON m.id = i.message_row_id WHERE i.case_id = :c"
        ),
        {"c": case.id},
    ).all()
    messages = [str(r.id) for r in conn.execute(text("SELECT id FROM messages WHERE case_id = :c"), {"c": case.id})]
    history = _history_rows(
        conn,
        {
            "case": [str(case.id)],
            "message": messages,
            "document": [str(d) for d in doc_ids],
            "exception_item": [str(i.id) for i in items],
        },
    )
    return 1 + len(returns) + len(docs) + len(findings) + len(items) + history


def timed_select(engine: Engine, fetch: Callable[[Connection], int]) -> float:
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = fetch(conn)
        conn.rollback()
    elapsed = time.perf_counter() - started
    assert rows >= 0
    return elapsed


# -- the queue's variants ------------------------------------------------------------------------


def queue_variants(rng: random.Random) -> Iterator[tuple[str, dict[str, str]]]:
    from core.cases import ExceptionReason

    reasons = [r.value for r in ExceptionReason]
    while True:
        yield "first page", {}
        yield "page 50", {"page": "50"}
        yield "by reason", {"reason": rng.choice(reasons)}
        yield "by agency", {"agency": rng.choice(AGENCIES)}
        yield "newest first", {"sort": "newest", "page": str(rng.randint(1, 20))}
        yield "by agency, sorted", {"sort": "agency", "page": str(rng.randint(1, 20))}
        yield "search", {"q": rng.choice(("review 1", "SSCP-2025", "gmp.example", "strategy"))}
        yield "page 100", {"page": "100"}


# -- the service, the app and the session ------------------------------------------------------


@dataclass
class Setup:
    cluster: PostgresCluster
    workdir: Path
    service: Any
    dataset: Dataset
    cookie: str
    item_ids: list[int]
    case_refs: list[str]


def build(args: argparse.Namespace, rng: random.Random) -> Setup:
    from intake.service import Service
    from intake.settings import DatabaseSettings, load_settings
    from storage.uow import UnitOfWork
    from web.auth import add_user, start_session
    from web.ports import default_password_hasher

    cluster = start_cluster(durable=args.durable)
    workdir = Path(tempfile.mkdtemp(prefix="sscp-bench-web-"))
    try:
        url = cluster.create_database("bench_web")
        base = load_settings(ROOT / "config.toml")
        settings = base.model_copy(
            update={
                "database": DatabaseSettings(url=url),
                "service": base.service.model_copy(update={"data_dir": str(workdir / "data")}),
            }
        )
        service = Service.build(settings, mailboxes=[])
        now = dt.datetime.now(dt.UTC)
        dataset = load(
            f"host=127.0.0.1 port={cluster.port} user=postgres dbname=bench_web",
            cases=args.cases,
            open_items=args.open_items,
            now=now,
            seed=args.seed,
        )
        item_ids = rng.sample(dataset.open_item_ids, min(len(dataset.open_item_ids), args.requests + args.warmup))
        case_refs = rng.sample(dataset.case_references, min(len(dataset.case_references), args.requests + args.warmup))
        _store_originals(service, item_ids)
        with UnitOfWork(service.engine) as uow:
            user, _ = add_user(
                uow,
                default_password_hasher(),
                email=USER_EMAIL,
                role="business_unit",
                password=PASSWORD,
                actor="bench",
                now=now,
            )
            session_id = start_session(uow, user, now)
            uow.commit()
        return Setup(cluster, workdir, service, dataset, session_id, item_ids, case_refs)
    except BaseException:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _store_originals(service: Any, item_ids: list[int]) -> None:
    """Real emails (with their attachments) in the encrypted blob store for the items visited:
    the item page reads the original's header block for its authentication summary."""
    from tests.fixtures.mail import agency_email, good_form_email

    forms = ("agency_summary", "chronology", "referral")
    originals = {form: good_form_email(form) for form in forms}
    originals["none"] = agency_email(
        sender="casey.lund@police.example.org",
        subject="No attachment",
        body="Please see my earlier email.",
        attachments=[],
    )
    digests = dict(zip(originals, service.pipeline._blobs.put_many(list(originals.values())), strict=True))
    with service.engine.begin() as conn:
        for n, item_id in enumerate(item_ids):
            digest = digests[list(digests)[n % len(digests)]]
            conn.execute(
                text(
                    "UPDATE messages SET blob = :d FROM exception_items i "
                    "WHERE i.id = :i AND messages.id = i.message_row_id"
                ),
                {"d": digest, "i": item_id},
            )


class Server:
    """uvicorn serving the app in a thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="bench-web", daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web app did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# -- the run ------------------------------------------------------------------------------------


def fetch(client: httpx.Client, path: str, params: dict[str, str] | None, expect: str) -> float:
    started = time.perf_counter()
    response = client.get(path, params=params)
    body = response.text
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or expect not in body:
        raise RuntimeError(f"GET {path} {params or ''}: {response.status_code}, expected text missing")
    return elapsed


def measure(setup: Setup, base_url: str, args: argparse.Namespace, rng: random.Random) -> dict[str, Sample]:
    samples = {kind: Sample() for kind in PAGE_KINDS}
    engine = setup.service.engine
    variants = queue_variants(rng)
    headers = {"Cookie": f"__Host-session={setup.cookie}"}
    with httpx.Client(base_url=base_url, headers=headers, follow_redirects=False, timeout=30) as client:
        for n in range(args.warmup + args.requests):
            warm = n < args.warmup
            name, params = next(variants)
            item_id = setup.item_ids[n % len(setup.item_ids)]
            reference = setup.case_refs[n % len(setup.case_refs)]
            timings = {
                "queue": fetch(client, "/queue", params, "govuk-table"),
                "item": fetch(client, f"/queue/{item_id}", None, "govuk-summary-list"),
                "case": fetch(client, f"/cases/{reference}", None, reference),
            }
            selects = {
                "queue": timed_select(engine, lambda c, p=params: select_queue(c, p)),  # type: ignore[misc]
                "item": timed_select(engine, lambda c, i=item_id: select_item(c, i)),  # type: ignore[misc]
                "case": timed_select(engine, lambda c, r=reference: select_case(c, r)),  # type: ignore[misc]
            }
            if warm:
                continue
            for kind in PAGE_KINDS:
                samples[kind].page.append(timings[kind])
                samples[kind].select.append(selects[kind])
            samples["queue"].by_variant.setdefault(name, []).append(timings["queue"])
    return samples


def report(samples: dict[str, Sample], setup: Setup, args: argparse.Namespace, load_before: str) -> int:
    results: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "load_before": load_before, "load_after": load_average()},
        "database": "postgresql, durable" if args.durable else "postgresql, fsync off",
        "data": setup.dataset.summary(),
        "requests_per_kind": args.requests,
        "target_p95_ms": TARGET_P95_MS,
        "pages": {},
    }
    missed = []
    print(f"\n{'page':<6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}   {'SELECT p95':>10}  {'ratio':>6}")
    for kind in PAGE_KINDS:
        page = summary_ms(samples[kind].page)
        select = summary_ms(samples[kind].select)
        ratio = page["p95"] / select["p95"] if select["p95"] else float("inf")
        met = page["p95"] < TARGET_P95_MS
        if not met:
            missed.append(f"{kind} page p95 {page['p95']} ms >= {TARGET_P95_MS:.0f} ms")
        print(
            f"{kind:<6} {page['p50']:>7} {page['p95']:>7} {page['p99']:>7} {page['max']:>7}   "
            f"{select['p95']:>10}  {ratio:>5.1f}x  {'met' if met else 'MISSED'}"
        )
        results["pages"][kind] = {"page_ms": page, "select_ms": select, "ratio_p95": round(ratio, 1), "met": met}
    variants = {name: summary_ms(values) for name, values in samples["queue"].by_variant.items()}
    results["pages"]["queue"]["variants_ms"] = variants
    print("\nqueue by variant (p50 / p95 ms): " + "; ".join(f"{k} {v['p50']}/{v['p95']}" for k, v in variants.items()))
    print(f"load average before {load_before}, after {results['machine']['load_after']} ({os.cpu_count()} cores)")
    results["verdict"] = "all targets met" if not missed else "missed: " + "; ".join(missed)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "web.json").write_text(json.dumps(results, indent=2) + "\n")
    print(results["verdict"])
    return 0 if not missed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page kind")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--open-items", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--durable", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    load_before = load_average()
    print(f"load average {load_before}; building the data...", flush=True)
    setup = build(args, rng)
    try:
        print("data: " + ", ".join(f"{k} {v}" for k, v in setup.dataset.summary().items()), flush=True)
        from intake.webapp import build_web

        app = build_web(setup.service)
        with Server(app) as server:
            samples = measure(setup, f"http://127.0.0.1:{server.port}", args, rng)
        return report(samples, setup, args, load_before)
    finally:
        with contextlib.suppress(Exception):
            setup.service.close()
        setup.cluster.stop()
        shutil.rmtree(setup.workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
