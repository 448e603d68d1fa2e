"""Redis stopped under a running portal (a redis-server of the test's own): pages and sign-in answer 503 naming
sign-in storage, SIR Giving's deliveries are still stored, one log line says so; Redis back, the portal works
again without a restart."""

from __future__ import annotations

import json

import pytest

from tests.conftest import AuthActions, text_of
from tests.services.conftest import assert_every_page_names_the_outage, outage_message
from tests.webhooks.helpers import envelope, post_event, stored_events
from webapp.outages import OUTAGE_LOG

NAMED = "Sign-in storage (Redis) is unreachable; you will need to sign in again once it is back."
PAGES = ["/", "/keys/", "/token-pools/", "/webhooks/", "/audit/"]


@pytest.fixture(scope="module")
def portal(own_redis, outage_portal):
    """A portal whose sessions, HTTP cache and rate limits are in this module's Redis (its database: SQLite)."""
    return outage_portal({"REDIS_URL": own_redis.url, "LOGIN_RATE_LIMIT": "3 per minute"})


@pytest.fixture
def redis_down(own_redis):
    """Redis is stopped for the test, and started again (empty: it keeps nothing) after it."""
    own_redis.stop()
    OUTAGE_LOG.reset()
    yield own_redis
    if own_redis.process is None:
        own_redis.start()


def test_with_redis_stopped_every_page_answers_503_naming_sign_in_storage(portal, redis_down, caplog):
    assert_every_page_names_the_outage(portal.client, PAGES, NAMED, caplog)
    card = portal.client.get("/token-pools/", headers={"HX-Request": "true"})  # an htmx fragment says it in place
    assert card.status_code == 503 and NAMED in text_of(card)


def test_with_redis_stopped_sign_in_answers_503_naming_sign_in_storage(portal, redis_down):
    app = portal.app
    response = AuthActions(app.test_client()).login("acme")
    assert response.status_code == 503
    assert outage_message(response) == NAMED


def test_with_redis_stopped_the_receiver_still_stores_a_genuine_delivery(portal, redis_down):
    app, token, secret = portal.app, portal.token, portal.secret
    before = len(stored_events(app))
    event = envelope(event_id="evt_redis_down", event_type="action.completed", tokensDistributed=5)
    response = post_event(app.test_client(), token, secret, event)
    assert response.status_code == 200 and response.json == {"received": True}
    stored = stored_events(app)
    assert len(stored) == before + 1 and stored[-1].event_id == "evt_redis_down"
    assert json.loads(stored[-1].raw_body) == event


def test_with_redis_stopped_the_http_cache_is_a_miss_and_sir_giving_answers(portal, redis_down):
    fresh = portal.api.summary()  # its cached answer, its generation and the write after: all in Redis
    assert fresh.reply.status == 200 and not fresh.reply.from_cache and not fresh.reply.stale
    assert fresh.value.total_users > 0  # what SIR Giving said, parsed


def test_with_redis_stopped_sign_in_limits_still_count_in_memory(portal, redis_down):
    app = portal.app
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.77"  # an address of its own: a budget of its own
    statuses = [AuthActions(client).login("acme", password="wrong").status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_when_redis_is_back_pages_work_again_without_a_restart(portal, redis_down):
    client = portal.client
    assert client.get("/").status_code == 503
    redis_down.start()  # empty: without persistence every session is gone
    signed_out = client.get("/keys/")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    assert AuthActions(client).login("acme").status_code == 302  # the real sign-in form, through Redis again
    for path in PAGES:
        assert client.get(path).status_code == 200, path


def test_with_redis_stopped_readiness_fails_naming_redis_and_liveness_holds(portal, redis_down):
    client = portal.app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["status"] == "not ready"
    assert ready.json["checks"]["redis"]["state"] == "failing" and ready.json["checks"]["database"]["state"] == "ok"
    assert client.get("/healthz").status_code == 200
    redis_down.start()
    assert client.get("/readyz").status_code == 200
