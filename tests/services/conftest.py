"""Fixtures for the outage tests: a Redis and a PostgreSQL of the test's own (tests/services/servers.py), started
once per module and stopped for good at its end, and a portal built on them for the whole module.

The machine's shared PostgreSQL and Redis (DATABASE_URL, REDIS_URL) are never stopped: an outage is always of
one of these."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import release_simulator
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


@pytest.fixture(scope="module")
def module_app_factory():
    """`build(environ)`: a portal on the embedded simulator (manual webhook delivery) that lives for the module,
    unlike conftest's `make_app`, whose app is released after each test."""
    from webapp import create_app

    folder = Path(tempfile.mkdtemp(prefix="portal-outage-"))
    built = []

    def build(environ: dict) -> object:
        app = create_app({"INSTANCE_PATH": str(folder / f"instance{len(built)}"), "SECRET_KEY": "s" * 40, **environ},
                         simulator_config={"DELIVERY_MODE": "manual"})
        app.config.update(TESTING=True)
        built.append(app)
        return app

    yield build
    for app in built:
        from webapp.store import db

        with app.app_context():
            db.engine.dispose()
        release_simulator(app.extensions["simulator_app"].extensions["sir_simulator"])
    shutil.rmtree(folder, ignore_errors=True)

