"""The outage log says each outage once per interval (with how many it held back), not once per request; and a
portal whose Redis cannot be reached at all still serves what needs no session, and names Redis for the rest."""

from __future__ import annotations

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError

from tests.conftest import form_values, make_app, page
from tests.services.servers import free_port
from webapp.outages import DATABASE, REDIS, _OutageLog, dependency_of


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_an_outage_is_logged_once_per_interval_with_the_count_it_held_back(caplog):
    clock = FakeClock()
    log = _OutageLog(interval=60, clock=clock)
    with caplog.at_level(logging.ERROR, logger="webapp.outages"):
        for _ in range(50):
            log.seen(REDIS, RedisConnectionError("Error 111 connecting to 127.0.0.1:6380. Connection refused."))
        clock.now += 61
        log.seen(REDIS, RedisConnectionError("Error 111 connecting to 127.0.0.1:6380. Connection refused."))
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2 and all(line.startswith("Redis is unreachable: ConnectionError") for line in lines)
    assert "(49 more since the last line)" in lines[1]
    assert not [record for record in caplog.records if record.exc_info]


def test_a_database_error_that_is_a_bug_is_not_an_outage():
    from sqlalchemy.exc import IntegrityError

    assert dependency_of(OperationalError("SELECT 1", {}, Exception("connection refused"))) == DATABASE
    assert dependency_of(IntegrityError("INSERT", {}, Exception("duplicate key"))) is None
    assert dependency_of(ValueError("nothing to do with a service")) is None


def test_with_redis_unreachable_the_login_page_shows_and_signing_in_names_redis(tmp_path):
    app = make_app(tmp_path, {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})  # nothing listens there
    client = app.test_client()
    login = client.get("/login")
    assert login.status_code == 200  # an anonymous visitor's session is its signed cookie: no Redis needed
    data = form_values(login, "form#login-form")
    data.update(email="admin@acme.example", password="sandbox-demo")
    refused = client.post("/login", data=data)
    assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
    assert "Sign-in storage (Redis) is unreachable" in page(refused).select_one(".outage-message").get_text()
