"""The instance folder holds the database (vault, audit log, sessions), the HTTP cache and the generated secrets:
only the portal's own user may read it, whatever the umask, and the session table holds no usable cookie."""

import hashlib
import os
import sqlite3
import stat

import pytest

from tests.conftest import AuthActions, make_app


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(instance):
    return {str(path.relative_to(instance)): stat.S_IMODE(path.stat().st_mode) for path in instance.rglob("*")}


def use_the_portal(app):
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    assert client.get("/").status_code == 200 and client.get("/audit/").status_code == 200
    return client


def test_the_instance_folder_is_0700_and_its_files_0600_with_umask_022(tmp_path, umask_022):
    app = make_app(tmp_path)
    use_the_portal(app)
    instance = tmp_path / "instance"
    found = modes(instance)
    assert {"portal.sqlite3", "http_cache.sqlite3", "secret_key", "vault_key", "simulator-state.jsonl"} <= set(found)
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert {name: mode for name, mode in found.items() if mode != 0o600} == {}


def test_an_instance_folder_left_readable_by_an_older_version_is_closed(tmp_path, umask_022):
    first = make_app(tmp_path)
    use_the_portal(first)
    instance = tmp_path / "instance"
    instance.chmod(0o755)
    for path in instance.iterdir():
        path.chmod(0o644)
    use_the_portal(make_app(tmp_path))
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert {name: mode for name, mode in modes(instance).items() if mode != 0o600} == {}


def test_the_session_table_keeps_a_hash_of_the_session_id_not_the_cookie(tmp_path):
    app = make_app(tmp_path)
    client = use_the_portal(app)
    cookie = client.get_cookie("portal_session").value
    with sqlite3.connect(tmp_path / "instance" / "portal.sqlite3") as connection:
        stored = [row[0] for row in connection.execute("SELECT session_id FROM portal_sessions")]
    assert stored == ["session:" + hashlib.sha256(cookie.encode()).hexdigest()]
    assert cookie.encode() not in (tmp_path / "instance" / "portal.sqlite3").read_bytes()
    # What the table holds is worth nothing as a cookie.
    thief = app.test_client()
    thief.set_cookie("portal_session", stored[0])
    assert thief.get("/audit/").status_code == 302
