"""The web app from intake's side: `intake users add`, the first admin, and serving it."""

from __future__ import annotations

import io
import re
import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from core.errors import ConfigError
from intake.cli import main
from intake.service import Service
from intake.settings import Settings, settings_from_dict
from intake.users import add
from intake.webapp import announce_first_admin, app_settings, build_web, serve_beside
from storage.db import make_engine
from storage.uow import UnitOfWork
from tests.unit.web_support import RecordingActions, cheap_hasher

ONE_TIME = re.compile(r"(?:[a-z2-9]{5}-){3}[a-z2-9]{5}")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def settings_for(tmp_path, **web) -> Settings:
    return settings_from_dict({"service": {"data_dir": str(tmp_path)}, "web": web})


def stored_users(settings: Settings) -> list[tuple[str, str, bool]]:
    engine = make_engine(f"sqlite:///{settings.data_path / 'intake.sqlite3'}")
    try:
        with UnitOfWork(engine) as uow:
            return [(u.email, u.role, u.must_change_password) for u in uow.accounts.users()]
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- intake users add ------------------------------------------------------------------------------


def test_users_add_reads_the_password_from_standard_input(tmp_path):
    settings = settings_for(tmp_path)
    out = io.StringIO()

    assert 0 == add(
        settings,
        "Alex.Smith@Partnership.example.org",
        "business_unit",
        stdin=io.StringIO("a long enough passphrase\n"),
        out=out,
    )

    assert "added alex.smith@partnership.example.org as business_unit\n" == out.getvalue()
    assert [("alex.smith@partnership.example.org", "business_unit", False)] == stored_users(settings)


def test_users_add_on_a_terminal_prints_a_one_time_password_once(tmp_path):
    settings = settings_for(tmp_path)
    out = io.StringIO()

    add(settings, "sam@partnership.example.org", "viewer", stdin=Terminal(), out=out)

    assert 1 == len(ONE_TIME.findall(out.getvalue()))
    assert [("sam@partnership.example.org", "viewer", True)] == stored_users(settings)


def test_users_add_refuses_a_short_password_a_bad_address_and_a_second_account(tmp_path, monkeypatch):
    monkeypatch.setattr("intake.users.default_password_hasher", cheap_hasher)
    settings = settings_for(tmp_path)
    add(
        settings,
        "sam@partnership.example.org",
        "viewer",
        stdin=io.StringIO("a long enough passphrase\n"),
        out=io.StringIO(),
    )

    with pytest.raises(ConfigError, match="12 characters"):
        add(settings, "kim@partnership.example.org", "viewer", stdin=io.StringIO("short\n"), out=io.StringIO())
    with pytest.raises(ConfigError, match="correct format"):
        add(
            settings, "kim at partnership", "viewer", stdin=io.StringIO("a long enough passphrase\n"), out=io.StringIO()
        )
    with pytest.raises(ConfigError, match="already exists"):
        add(
            settings,
            "SAM@partnership.example.org",
            "admin",
            stdin=io.StringIO("a long enough passphrase\n"),
            out=io.StringIO(),
        )


def test_the_command_line_takes_users_add(tmp_path, monkeypatch, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[service]\ndata_dir = "{tmp_path}"\n', encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase\n"))

    status = main(["--config", str(config), "users", "add", "kim@partnership.example.org", "--role", "admin"])

    assert 0 == status
    assert "added kim@partnership.example.org as admin" in capsys.readouterr().out
    assert 2 == main(["--config", str(config), "users", "add", "kim@partnership.example.org", "--role", "admin"])


# -- the app from the composition root ---------------------------------------------------------------


def test_the_web_section_sets_the_app_s_time_outs_and_address(tmp_path):
    settings = settings_for(tmp_path, host="127.0.0.1", port=8123, session_idle_minutes=15, session_absolute_hours=8)

    app = app_settings(settings)

    assert (900, 8 * 3600) == (app.session_idle.total_seconds(), app.session_absolute.total_seconds())
    assert "http://127.0.0.1:8123" == app.base_url
    assert app.secure_cookies


def test_the_first_admin_is_made_once_and_its_password_printed_once(tmp_path):
    settings = settings_for(tmp_path)
    with Service.build(settings, mailboxes=[]) as service:
        shown = io.StringIO()
        assert announce_first_admin(service, out=shown)
        assert not announce_first_admin(service, out=io.StringIO())
        app = build_web(service, actions=RecordingActions())

        password = ONE_TIME.search(shown.getvalue())
        assert password is not None
        assert "admin@localhost" in shown.getvalue()
        # in development mode a business unit account comes with it, to work the queue
        assert 2 == len(ONE_TIME.findall(shown.getvalue()))
        assert "caseworker@localhost" in shown.getvalue()
        client = TestClient(app, base_url="https://testserver", follow_redirects=False)
        page = client.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        signed = client.post(
            "/sign-in", data={"email": "admin@localhost", "password": password.group(0), "csrf_token": token}
        )
    assert "/account/password" == signed.headers["location"]


def test_no_first_admin_is_made_when_the_password_would_not_reach_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdout", io.StringIO())
    settings = settings_for(tmp_path)
    with Service.build(settings, mailboxes=[]) as service:
        assert not announce_first_admin(service)
    assert [] == stored_users(settings)


def test_the_web_app_runs_beside_the_daemon_and_stops_with_it(tmp_path):
    port = free_port()
    settings = settings_for(tmp_path, port=port)
    stop = threading.Event()
    with Service.build(settings, mailboxes=[]) as service:
        serve = serve_beside(build_web(service, actions=RecordingActions()), settings)
        thread = threading.Thread(target=serve, args=(stop,))
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the web app did not start"
                    time.sleep(0.05)
            assert 200 == response.status_code
            assert "Sign in" in response.text
        finally:
            stop.set()
            thread.join(15)
    assert not thread.is_alive()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=1)


def test_a_web_app_that_cannot_start_stops_the_service(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = settings_for(tmp_path, port=taken.getsockname()[1])
        stop = threading.Event()
        with Service.build(settings, mailboxes=[]) as service:
            serve = serve_beside(build_web(service, actions=RecordingActions()), settings)
            thread = threading.Thread(target=serve, args=(stop,))
            thread.start()
            thread.join(15)

    assert stop.is_set()
    assert not thread.is_alive()
