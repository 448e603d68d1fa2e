"""PostgreSQL stopped under a running portal (a cluster of the test's own): pages answer 503 naming the
database, the receiver answers 503 JSON with Retry-After so SIR Giving retries, nothing acknowledged is lost, and
the portal recovers when the database is back, without a restart."""

from __future__ import annotations

import os

import pytest

from tests.services.conftest import assert_every_page_names_the_outage
from tests.services.servers import answers
from tests.webhooks.helpers import envelope, post_event, stored_events
from webapp.outages import OUTAGE_LOG

NAMED = "The database is unreachable"
PAGES = ["/", "/keys/", "/token-pools/", "/webhooks/", "/audit/"]


@pytest.fixture(scope="module")
def portal(own_postgres, outage_portal):
    """A portal on this module's PostgreSQL (sessions in the CI's Redis when REDIS_URL is set, else in that
    database too)."""
    environ = {"DATABASE_URL": own_postgres.url}
    if os.environ.get("REDIS_URL"):
        environ["REDIS_URL"] = os.environ["REDIS_URL"]
    return outage_portal(environ)


@pytest.fixture
def database_down(own_postgres):
    """PostgreSQL is stopped for the test (fast shutdown: open connections are cut), and started after it."""
    own_postgres.stop()
    OUTAGE_LOG.reset()
    yield own_postgres
    if not answers(own_postgres.port):
        own_postgres.start()


def test_with_the_database_stopped_every_page_answers_503_naming_it(portal, database_down, caplog):
    assert_every_page_names_the_outage(portal.client, PAGES, NAMED, caplog)


def test_with_the_database_stopped_the_receiver_answers_503_json_so_sir_giving_retries(portal, database_down):
    app, token, secret = portal.app, portal.token, portal.secret
    response = post_event(app.test_client(), token, secret, envelope(event_id="evt_db_down"))
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.is_json and "database" in response.json["error"].lower()


def test_nothing_acknowledged_is_lost_and_the_portal_recovers_without_a_restart(portal, database_down):
    app, client, token, secret = portal.app, portal.client, portal.token, portal.secret
    receiver = app.test_client()
    answers = {}

    def deliver(event_id):
        answers[event_id] = post_event(receiver, token, secret, envelope(event_id=event_id)).status_code

    for n in range(5):  # during the outage: refused, so SIR Giving keeps them to retry
        deliver(f"evt_outage_{n}")
    database_down.start()
    for n in range(5):
        deliver(f"evt_after_{n}")
    for n in range(5):  # SIR Giving's retries of what was refused
        deliver(f"evt_outage_{n}")
    assert all(status == 200 for event_id, status in answers.items()), answers
    stored = {event.event_id for event in stored_events(app)}
    assert {f"evt_outage_{n}" for n in range(5)} | {f"evt_after_{n}" for n in range(5)} <= stored
    for path in PAGES:
        assert client.get(path).status_code == 200, path


def test_deliveries_acknowledged_before_the_database_stops_are_there_when_it_is_back(portal, own_postgres):
    app, token, secret = portal.app, portal.token, portal.secret
    receiver = app.test_client()
    acknowledged = []
    for n in range(40):
        if n == 20:
            own_postgres.stop()  # mid-run, as a database server goes down under live traffic
        event_id = f"evt_run_{n}"
        if post_event(receiver, token, secret, envelope(event_id=event_id)).status_code == 200:
            acknowledged.append(event_id)
    own_postgres.start()
    assert len(acknowledged) == 20
    stored = {event.event_id for event in stored_events(app)}
    assert set(acknowledged) <= stored


def test_with_the_database_stopped_readiness_fails_naming_it_and_liveness_holds(portal, database_down):
    client = portal.app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["status"] == "not ready"
    assert ready.json["checks"]["database"]["state"] == "failing"
    assert client.get("/healthz").status_code == 200
    database_down.start()
    assert client.get("/readyz").status_code == 200
