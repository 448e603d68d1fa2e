"""`/healthz` says the process answers; `/readyz` says whether the database and Redis answer too."""

import socket

from sqlalchemy import create_engine

from tests.conftest import make_app


def free_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_liveness_answers_with_the_process_check(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["checks"]["process"]["state"] == "ok"


def test_readiness_lists_each_check_with_its_state_and_latency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ready"
    assert body["checks"]["database"]["state"] == "ok"
    assert body["checks"]["redis"]["state"] == "not configured"
    assert body["checks"]["sir"]["state"] == "embedded"
    assert all(isinstance(check["latency_ms"], float) for check in body["checks"].values())


def test_readiness_is_503_naming_the_database_when_it_is_unreachable(app, client):
    from webapp.store import db

    # The database goes away after start-up: the app's engine now points at a port nobody listens on.
    with app.app_context():
        db.engines[None].dispose()
        db._app_engines[app][None] = create_engine(f"postgresql+psycopg://portal@127.0.0.1:{free_port()}/portal")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "not ready"
    assert response.json["checks"]["database"]["state"] == "failing"
    assert response.json["checks"]["redis"]["state"] == "not configured"
    # What failed, never where: the check names the error's kind, not the URL.
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_readiness_is_503_naming_redis_when_it_is_unreachable(tmp_path):
    app = make_app(tmp_path, {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["redis"]["state"] == "failing" and checks["redis"]["error"]
    assert checks["database"]["state"] == "ok"


def test_health_checks_store_no_session_and_need_no_csrf_token(client):
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers
        assert client.head(path).status_code == 200
