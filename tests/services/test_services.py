"""With DATABASE_URL and REDIS_URL set (as .ci/run does), the portal keeps its state in PostgreSQL and Redis.

These tests skip unless both are set, so a laptop without the services still runs the rest.
"""

import hashlib
import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import AuthActions, make_app, text_of

DATABASE_URL = os.environ.get("DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")

pytestmark = pytest.mark.skipif(not (DATABASE_URL and REDIS_URL), reason="DATABASE_URL and REDIS_URL are not set")


@pytest.fixture
def schema_url():
    """A PostgreSQL schema of its own for this test, dropped afterwards."""
    url = DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1) if DATABASE_URL.startswith("postgresql://") else DATABASE_URL
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    yield f"{url}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def test_two_workers_share_sessions_cache_and_vault_through_the_services(tmp_path, schema_url):
    from redis import Redis

    from cryptography.fernet import Fernet

    # Workers of one deployment share their configuration, secrets included.
    environ = {"DATABASE_URL": schema_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": "s" * 40,
               "VAULT_KEY": Fernet.generate_key().decode()}
    # Two apps with different instance folders stand for two workers on two machines.
    first = make_app(tmp_path / "one", environ)
    second_worker = make_app(tmp_path / "two", environ)
    # Both must talk to the same upstream state, as two workers behind one SIR Giving would.
    second_worker.extensions["sir_client"].plain.adapters = first.extensions["sir_client"].plain.adapters
    second_worker.extensions["sir_client"].cached.adapters = first.extensions["sir_client"].cached.adapters
    client = first.test_client()
    AuthActions(client).sign_in("acme")
    assert client.get("/").status_code == 200  # the first worker fills the shared cache
    cookie = client.get_cookie("portal_session")
    assert not (tmp_path / "one" / "instance" / "portal.sqlite3").exists()
    # Redis keys the session by a hash of its id: a dump of Redis holds no usable cookie.
    stored_as = hashlib.sha256(cookie.value.encode()).hexdigest()
    assert Redis.from_url(REDIS_URL).exists(f"portal-session:{stored_as}")
    assert not Redis.from_url(REDIS_URL).exists(f"portal-session:{cookie.value}")

    other = second_worker.test_client()
    other.set_cookie("portal_session", cookie.value)
    calls = []
    second_worker.extensions["sir_client"].observe = calls.append
    overview = other.get("/")
    assert overview.status_code == 200 and "Acme Rewards" in text_of(overview)
    assert calls  # the overview's calls, each answered from the cache
    # The second worker found the first one's cached answers in Redis: no upstream call. (The overview streams,
    # so its calls are counted in its log line, not its Server-Timing header: this asks the client what it sent.)
    assert [call for call in calls if not call.from_cache] == []


def test_login_rate_limits_are_shared_through_redis(tmp_path, schema_url):
    environ = {"DATABASE_URL": schema_url, "REDIS_URL": REDIS_URL, "LOGIN_RATE_LIMIT": "2 per minute"}
    email = f"limit-{uuid.uuid4().hex[:6]}@acme.example"
    first, second = make_app(tmp_path / "a", environ), make_app(tmp_path / "b", environ)
    AuthActions(first.test_client()).login(email, password="wrong")
    AuthActions(second.test_client()).login(email, password="wrong")
    refused = AuthActions(first.test_client()).login(email, password="wrong")
    assert refused.status_code == 429


def test_receiver_limits_are_counted_in_redis_after_the_signature(tmp_path, schema_url):
    from tests.webhooks.helpers import envelope, post_event, receiver_of, register_portal_receiver, stored_events

    app = make_app(tmp_path, {"DATABASE_URL": schema_url, "REDIS_URL": REDIS_URL, "RECEIVER_REFUSAL_LIMIT": "3 per minute"})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    receiver, secret = receiver_of(app)
    forger, sir_giving = app.test_client(), app.test_client()
    # An address of its own per run: the counts live in the shared Redis for a minute.
    forger.environ_base["REMOTE_ADDR"] = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    codes = [post_event(forger, receiver.token, "whsec_forger", envelope(f"evt_forged_{n}")).status_code for n in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert post_event(sir_giving, receiver.token, secret, envelope("evt_genuine")).status_code == 200
    assert [e.event_id for e in stored_events(app)] == ["evt_genuine"]


@pytest.mark.slow
def test_workers_starting_together_create_the_schema_once(tmp_path, schema_url):
    """Two processes building the app at the same moment on an empty PostgreSQL schema both start."""
    import subprocess
    import sys
    from pathlib import Path

    from cryptography.fernet import Fernet

    root = Path(__file__).resolve().parents[2]
    env = {**__import__("os").environ, "DATABASE_URL": schema_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": "s" * 40,
           "VAULT_KEY": Fernet.generate_key().decode(), "SIR_API_URL": "http://127.0.0.1:9"}
    code = "from webapp import create_app; create_app(); print('started')"
    workers = [subprocess.Popen([sys.executable, "-c", code], cwd=root, env={**env, "INSTANCE_PATH": str(tmp_path / f"w{n}")},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(3)]
    results = [worker.communicate(timeout=60) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [err[-800:] for _, err in results]
    assert all(out.strip() == "started" for out, _ in results)


def test_no_secret_is_in_plaintext_in_postgresql_or_redis(tmp_path, schema_url):
    """What the SQLite scan proves for the embedded default, for the services: every row of every table and
    every Redis value (sessions, HTTP cache, rate limits) is free of the key, the HMAC secret and the JWT."""
    from cryptography.fernet import Fernet
    from redis import Redis

    from tests.conftest import session_jwt

    environ = {"DATABASE_URL": schema_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": "s" * 40,
               "VAULT_KEY": Fernet.generate_key().decode()}
    app = make_app(tmp_path, environ)
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    for path in ("/", "/keys/", "/token-pools/", "/webhooks/", "/audit/"):
        assert client.get(path).status_code == 200, path
    with client.session_transaction() as stored:
        partner_id = stored["partner"]["id"]
    with app.app_context():
        credential = app.extensions["vault"].credential_for(partner_id, "sandbox")
    secrets = [credential.secret_key.encode(), credential.hmac_secret.encode(), session_jwt(app, client).encode()]

    engine = create_engine(schema_url)
    with engine.connect() as connection:
        tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars().all()
        assert "vault_credentials" in tables, tables
        rows = [str(row).encode() for table in tables
                for row in connection.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t')).scalars()]
    engine.dispose()
    assert rows, "the database holds nothing: the scan would prove nothing"
    redis = Redis.from_url(REDIS_URL)
    values = [redis_value(redis, key) for key in redis.scan_iter(count=500)]
    assert values, "Redis holds nothing: the scan would prove nothing"
    for blob in rows + values:
        for secret in secrets:
            assert secret not in blob


def redis_value(redis, key) -> bytes:
    """A key's value as stored, whatever its type (DUMP would compress long strings and hide a match)."""
    kind = redis.type(key).decode()
    if kind == "string":
        return redis.get(key) or b""
    if kind == "hash":
        return b"".join(k + v for k, v in redis.hgetall(key).items())
    if kind == "list":
        return b"".join(redis.lrange(key, 0, -1))
    if kind == "set":
        return b"".join(redis.smembers(key))
    if kind == "zset":
        return b"".join(redis.zrange(key, 0, -1))
    return b""
