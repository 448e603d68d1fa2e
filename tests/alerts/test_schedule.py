"""How the checks are started: `flask --app wsgi alerts run` (cron, a systemd timer) and the in-process schedule,
which starts with the first request a serving portal answers, never in tests unless asked, and stops cleanly."""

from __future__ import annotations

import time

import pytest

from config import Settings
from tests.alerts.helpers import alert_app, save_settings
from tests.alerts.servers import chat_listener, smtp_server
from tests.conftest import AuthActions
from webapp.alerts.scheduler import AlertScheduler
from webapp.store import alerts as store


@pytest.fixture
def servers():
    with smtp_server() as (port, mailbox), chat_listener() as (url, hook):
        yield port, mailbox, url, hook


@pytest.fixture
def app(tmp_path, servers):
    app = alert_app(tmp_path, servers[0])
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    save_settings(client, chat_url=servers[2])
    return app


def until(condition, timeout: float = 30):
    """Wait for what the test looks for, up to `timeout` seconds (not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def test_flask_alerts_run_sends_the_alerts_once_per_interval(app, servers):
    _port, mailbox, _url, hook = servers
    runner = app.test_cli_runner()
    first = runner.invoke(args=["alerts", "run"])
    assert first.exit_code == 0, first.output
    sent = len(mailbox.messages)
    assert sent > 0 and first.stdout.strip().splitlines()[-1] == f"Alert checks done: {sent} alert(s) sent."
    again = runner.invoke(args=["alerts", "run"])
    assert again.exit_code == 0
    assert "already ran (or are running) elsewhere: nothing to do" in again.stdout
    assert len(mailbox.messages) == len(hook.posts) == sent


def test_the_schedule_does_not_start_in_tests_even_when_on(app):
    scheduler = app.extensions["alerts_scheduler"]
    assert app.config["SETTINGS"].alerts_scheduler  # on by default on the embedded default
    assert app.test_client().get("/healthz").status_code == 200
    assert not scheduler.running


def test_the_schedule_starts_with_the_first_request_served_and_stops_cleanly(app):
    scheduler = app.extensions["alerts_scheduler"]
    app.config["TESTING"] = False  # as a served portal
    try:
        app.test_client().get("/healthz")
        assert scheduler.running
    finally:
        scheduler.stop()
        app.config["TESTING"] = True
    assert not scheduler.running


def test_a_started_schedule_runs_the_checks_and_stops_cleanly(app, servers):
    _port, mailbox, _url, hook = servers
    scheduler = AlertScheduler(app, interval_seconds=3600, first_delay=0)
    scheduler.start()
    try:
        until(lambda: scheduler.runs >= 1)
    finally:
        scheduler.stop()
    assert not scheduler.running
    with app.app_context():
        assert store.last_run().finished_at is not None
    assert len(mailbox.messages) == len(hook.posts) > 0


@pytest.mark.parametrize("environ, on", [
    ({}, True),  # the embedded default: one process, the portal runs its own schedule
    ({"SIR_API_URL": "https://devapi.sirgiving.org"}, False),  # several workers: cron or a timer, unless asked
    ({"SIR_API_URL": "https://devapi.sirgiving.org", "ALERTS_SCHEDULER": "on"}, True),
    ({"ALERTS_SCHEDULER": "off"}, False),
])
def test_the_in_process_schedule_is_on_for_the_embedded_default_only_unless_set(tmp_path, environ, on):
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path), **environ}).alerts_scheduler is on
