"""The web app from the composition root: its services built from a Service, and served.

app = build_web(service)                    web.app.create_app(WebServices(...))
announce_first_admin(service)                no user yet: an admin whose one-time password
                                             is printed once to the terminal (never logged)
make_server(app, settings).run()             `intake serve` (uvicorn, 127.0.0.1:8000)
Daemon(service).run_forever(serve=serve_beside(app, settings))     `intake run`
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

import uvicorn
from fastapi import FastAPI

from intake.service import Service
from intake.settings import Settings
from storage.uow import UnitOfWork
from web.app import create_app
from web.auth import add_user
from web.ports import QueueActions, WebServices, default_password_hasher
from web.ports import WebSettings as AppSettings

log = logging.getLogger("intake.web")
STOP_TIMEOUT_S = 10.0


def base_url(settings: Settings) -> str:
    web = settings.web
    if web.base_url:
        return web.base_url.rstrip("/")
    host = f"[{web.host}]" if ":" in web.host else web.host
    return f"http://{host}:{web.port}"


def app_settings(settings: Settings) -> AppSettings:
    web = settings.web
    return AppSettings(
        session_idle=dt.timedelta(minutes=web.session_idle_minutes),
        session_absolute=dt.timedelta(hours=web.session_absolute_hours),
        secure_cookies=True,
        base_url=base_url(settings),
    )


def _blobs_and_clock(service: Service) -> tuple[Any, Any]:
    blobs = getattr(service, "blobs", None) or service.pipeline._blobs
    clock = getattr(service, "clock", None) or service.pipeline._clock
    return blobs, clock


def web_services(service: Service, *, actions: QueueActions | None = None) -> WebServices:
    blobs, clock = _blobs_and_clock(service)
    if actions is None:
        from intake.actions import QueueActions as IntakeActions

        actions = IntakeActions.for_service(service, blobs=blobs)
    return WebServices(
        engine=service.engine,
        actions=actions,
        blobs=blobs,
        forms=service.forms,
        clock=clock,
        settings=app_settings(service.settings),
        hasher=default_password_hasher(),
    )


def build_web(service: Service, *, actions: QueueActions | None = None) -> FastAPI:
    """The web app on the service's database, blobs, forms and clock, with intake's queue actions."""
    return create_app(web_services(service, actions=actions))


def announce_first_admin(service: Service, *, out: TextIO | None = None) -> bool:
    """When nobody can sign in yet, create ``[web] first_admin`` with a one-time password and
    print it once to the terminal. Only on a terminal: a password must never land in a log
    (elsewhere, `intake users add` makes the first account). True when one was made."""
    stream = out if out is not None else sys.stdout
    if out is None and not stream.isatty():
        with UnitOfWork(service.engine) as uow:
            if uow.accounts.count_users() == 0:
                log.warning("no web user exists: create one with `intake users add EMAIL --role admin`")
        return False
    _, clock = _blobs_and_clock(service)
    web = service.settings.web
    wanted = [(web.first_admin, "admin", "administrator (users and the audit trail)")]
    if service.settings.service.mode == "development" and web.first_business_unit:
        wanted.append((web.first_business_unit, "business_unit", "business unit account (the queue and cases)"))
    made = []
    with UnitOfWork(service.engine) as uow:
        if uow.accounts.count_users() > 0:
            return False
        hasher = default_password_hasher()
        for email, role, what in wanted:
            user, secret = add_user(uow, hasher, email=email, role=role, password=None, actor="intake", now=clock.now())
            made.append((what, user.email, secret))
        uow.commit()
    lines = [f"\nSign in at {base_url(service.settings)}/sign-in and choose a new password:"]
    for what, email, secret in made:
        lines.append(f"  the first {what}: {email}  one-time password (shown only this once): {secret}")
    print("\n".join(lines) + "\n", file=stream, flush=True)
    return True


def make_server(app: FastAPI, settings: Settings) -> uvicorn.Server:
    """uvicorn on [web] host and port; its logs go through the service's (no access log: paths
    and addresses are not needed there)."""
    config = uvicorn.Config(
        app,
        host=settings.web.host,
        port=settings.web.port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        lifespan="off",
    )
    return uvicorn.Server(config)


def serve_beside(app: FastAPI, settings: Settings) -> Callable[[threading.Event], None]:
    """For Daemon.run_forever(serve=...): uvicorn in a thread until ``stop`` is set. If the web
    app cannot start (the port is taken) or stops by itself, ``stop`` is set so the whole
    service stops and says so, rather than running half."""

    def serve(stop: threading.Event) -> None:
        server = make_server(app, settings)

        def run() -> None:
            try:
                server.run()
            except BaseException:  # uvicorn exits (SystemExit) when it cannot bind
                log.exception("the web app failed")
            finally:
                if not stop.is_set():
                    log.error("the web app stopped: stopping the service")
                    stop.set()

        thread = threading.Thread(target=run, name="web", daemon=True)
        thread.start()
        log.info("web app on %s", base_url(settings))
        stop.wait()
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)

    return serve
