"""Fixtures for the outage tests: a Redis and a PostgreSQL of the test's own (tests/services/servers.py), started
once per module and stopped for good at its end, and a portal built on them for the whole module.

The machine's shared PostgreSQL and Redis (DATABASE_URL, REDIS_URL) are never stopped: an outage is always of
one of these."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import AuthActions, ReadingClient, page, partner_api_for, release_simulator
from tests.webhooks.helpers import receiver_of, register_portal_receiver
from tests.services.servers import PostgresServer, RedisServer


@pytest.fixture(scope="module")
def own_redis():
    """A redis-server of this module's own, on a free port, without persistence."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the Redis outage cannot be staged")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL cluster of this module's own (initdb into a temporary folder, pg_ctl on a free port)."""
    if (why_not := PostgresServer.available()) is not None:
        pytest.skip(f"no PostgreSQL to stop: {why_not}")
    server = PostgresServer()
    server.init()
    server.start()
    yield server
    server.remove()


class Portal(NamedTuple):
    app: object
    client: object  # the admin's test client, signed in as Acme
    token: str  # the address of the endpoint delivered to the portal's own receiver
    secret: str  # its signing secret
    api: object  # a PartnerApi with the portal's stored sandbox key: SIR Giving through the portal's client


@pytest.fixture(scope="module")
def outage_portal():
    """`build(environ)`: a portal on the embedded simulator (manual webhook delivery) that lives for the module,
    unlike conftest's `make_app`, whose app is released after each test; signed in as Acme, with an endpoint
    delivered to the portal's own receiver."""
    from webapp import create_app

    folder = Path(tempfile.mkdtemp(prefix="portal-outage-"))
    built = []

    def build(environ: dict) -> Portal:
        app = create_app({"INSTANCE_PATH": str(folder / f"instance{len(built)}"), "SECRET_KEY": "s" * 40,
                          "RECEIVER_RATE_LIMIT": "1000 per minute", **environ},
                         simulator_config={"DELIVERY_MODE": "manual"})
        app.config.update(TESTING=True)
        # Each body read whole, as a browser does (conftest's ReadingClient): a streamed page left unread would be
        # closed whenever the garbage collector finds it, inside whatever request is running then.
        app.test_client_class = ReadingClient
        built.append(app)
        client = app.test_client()
        AuthActions(client).sign_in("acme")
        register_portal_receiver(client)
        row, secret = receiver_of(app)
        return Portal(app, client, row.token, secret, partner_api_for(app, client))

    yield build
    for app in built:
        from webapp.store import db

        with app.app_context():
            db.engine.dispose()
        release_simulator(app.extensions["simulator_app"].extensions["sir_simulator"])
    shutil.rmtree(folder, ignore_errors=True)


def outage_message(response) -> str:
    """What the outage page says is down."""
    shown = page(response).select_one(".outage-message")
    return shown.get_text(" ", strip=True) if shown else ""


def assert_every_page_names_the_outage(client, pages: list[str], named: str, caplog) -> None:
    """Each page answers 503 with Retry-After, says `named` and offers itself again; the portal's log has one
    line about it (once per outage per interval) and no traceback."""
    import logging

    from tests.conftest import text_of

    with caplog.at_level(logging.WARNING):
        for path in pages:
            response = client.get(path)
            assert response.status_code == 503, (path, text_of(response)[:300])
            assert response.headers["Retry-After"].isdigit()
            assert outage_message(response).startswith(named), path
            assert page(response).find("a", string="Try again")["href"] == path  # the way back, once it is up
    outage_lines = [r.getMessage() for r in caplog.records if r.name == "webapp.outages"]
    assert len(outage_lines) == 1, outage_lines
    assert not [r.getMessage() for r in caplog.records if r.exc_info or "PendingRollbackError" in r.getMessage()]
