"""Settings: defaults in code, overrides from the environment, bad values fail fast with their name."""

import os
import stat

import pytest

from config import ConfigError, Settings


def test_the_embedded_default_needs_no_variables(tmp_path):
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert settings.embedded_simulator
    assert settings.sandbox_url == "https://sandbox.simulator.invalid"
    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    assert settings.secrets_generated == ["SECRET_KEY", "VAULT_KEY"]


def test_generated_secrets_are_written_once_with_mode_0600(tmp_path):
    first = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    second = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert first.secret_key == second.secret_key and first.vault_keys == second.vault_keys
    for name in ("secret_key", "vault_key"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600


def test_a_secret_can_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY_FILE": str(secret_file)})
    assert settings.secret_key == "from-a-file"


@pytest.mark.parametrize("environ, name", [
    ({"PORTAL_ENV": "staging"}, "PORTAL_ENV"),
    ({"SIR_READ_TIMEOUT": "soon"}, "SIR_READ_TIMEOUT"),
    ({"SIR_API_URL": "ftp://example.org"}, "SIR_API_URL"),
    ({"VAULT_KEY": "not-a-fernet-key"}, "VAULT_KEY"),
    ({"DATABASE_URL": "mysql://localhost/db"}, "DATABASE_URL"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
    ({"WEB_CONCURRENCY": "4"}, "WEB_CONCURRENCY"),
    ({"SECRET_KEY_FILE": "/nonexistent/secret"}, "SECRET_KEY_FILE"),
    ({"TRUSTED_PROXIES": "one"}, "TRUSTED_PROXIES"),
    ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES"),
    ({"TRUSTED_HOSTS": "https://portal.acme.example"}, "TRUSTED_HOSTS"),
    ({"TRUSTED_HOSTS": "portal.acme.example:8443"}, "TRUSTED_HOSTS"),
    ({"TRUSTED_HOSTS": "portal.acme.example, evil example"}, "TRUSTED_HOSTS"),
    ({"TRUSTED_HOSTS": " , "}, "TRUSTED_HOSTS"),
    ({"PORTAL_PUBLIC_URL": "portal.acme.example"}, "PORTAL_PUBLIC_URL"),
    ({"LOGIN_RATE_LIMIT": "ten"}, "LOGIN_RATE_LIMIT"),
    ({"RECEIVER_RATE_LIMIT": "lots"}, "RECEIVER_RATE_LIMIT"),
    ({"RECEIVER_REFUSAL_LIMIT": "60 a minute"}, "RECEIVER_REFUSAL_LIMIT"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ({"METRICS_TOKEN_FILE": "/nonexistent/token"}, "METRICS_TOKEN_FILE"),
    ({"SIMULATOR_VARIANT": "lists=sideways"}, "SIMULATOR_VARIANT"),
    ({"SMTP_HOST": "mail.acme.example"}, "SMTP_FROM"),
    ({"SMTP_HOST": "mail.acme.example", "SMTP_FROM": "not an address"}, "SMTP_FROM"),
    ({"SMTP_HOST": "mail.acme.example", "SMTP_FROM": "a@acme.example", "SMTP_PORT": "0"}, "SMTP_PORT"),
    ({"SMTP_HOST": "mail.acme.example", "SMTP_FROM": "a@acme.example", "SMTP_TLS": "ssl3"}, "SMTP_TLS"),
    ({"SMTP_HOST": "mail.acme.example", "SMTP_FROM": "a@acme.example", "SMTP_USER": "a"}, "SMTP_USER"),
    ({"SMTP_HOST": "mail.acme.example", "SMTP_FROM": "a@acme.example", "SMTP_USER": "a",
      "SMTP_PASSWORD_FILE": "/nonexistent/password"}, "SMTP_PASSWORD_FILE"),
    ({"SMTP_FROM": "a@acme.example"}, "SMTP_HOST"),
    ({"ALERTS_SCHEDULER": "sometimes"}, "ALERTS_SCHEDULER"),
    ({"ALERTS_INTERVAL_MINUTES": "0"}, "ALERTS_INTERVAL_MINUTES"),
    ({"ALERT_CHAT_TO": "everywhere"}, "ALERT_CHAT_TO"),
    ({"SIR_LIVE_KEYS_HOST": "sandbox"}, "SIR_LIVE_KEYS_HOST"),
    ({"CACHE_PRUNE_MINUTES": "hourly"}, "CACHE_PRUNE_MINUTES"),
    ({"CACHE_PRUNE_MINUTES": "-5"}, "CACHE_PRUNE_MINUTES"),
    ({"CACHE_MAX_ENTRIES": "10"}, "CACHE_MAX_ENTRIES"),
])
def test_a_bad_value_fails_fast_with_its_name(tmp_path, environ, name):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), **environ})


def test_production_refuses_generated_secrets_and_plain_http(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path), "PORTAL_ENV": "production"}
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({**base, "SIR_API_URL": "https://devapi.sirgiving.org"})
    secrets = {"SECRET_KEY": "s" * 40, "VAULT_KEY": "zcVJtj3KYW0Wn6A3cjZ0lV7aZCDtY2mm2nKNbuiQmg0="}
    with pytest.raises(ConfigError, match="SIR_API_URL"):
        Settings.from_env({**base, **secrets})
    with pytest.raises(ConfigError, match="plain http"):
        Settings.from_env({**base, **secrets, "SIR_API_URL": "http://sir.internal.example"})
    loopback = Settings.from_env({**base, **secrets, "SIR_API_URL": "http://127.0.0.1:4010",
                                  "PORTAL_PUBLIC_URL": "https://portal.acme.example"})
    assert loopback.production and loopback.sandbox_url == "http://127.0.0.1:4010"


def test_production_refuses_a_secret_key_shorter_than_32_bytes(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path), "PORTAL_ENV": "production", "SIR_API_URL": "https://devapi.sirgiving.org",
            "PORTAL_PUBLIC_URL": "https://portal.acme.example",
            "VAULT_KEY": "zcVJtj3KYW0Wn6A3cjZ0lV7aZCDtY2mm2nKNbuiQmg0="}
    for short in ("hunter", "x" * 31):
        with pytest.raises(ConfigError, match="SECRET_KEY: .*32 bytes"):
            Settings.from_env({**base, "SECRET_KEY": short})
    assert Settings.from_env({**base, "SECRET_KEY": "k" * 32}).secret_key == "k" * 32
    # Outside production a short key still starts (a developer's own choice), as before.
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "hunter"}).secret_key == "hunter"


def test_production_without_portal_public_url_fails_at_start_up_and_names_it(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path), "PORTAL_ENV": "production", "SIR_API_URL": "https://devapi.sirgiving.org",
            "SECRET_KEY": "s" * 40, "VAULT_KEY": "zcVJtj3KYW0Wn6A3cjZ0lV7aZCDtY2mm2nKNbuiQmg0="}
    with pytest.raises(ConfigError, match="^PORTAL_PUBLIC_URL: required in production"):
        Settings.from_env(base)
    with pytest.raises(ConfigError, match="^PORTAL_PUBLIC_URL"):
        Settings.from_env({**base, "TRUSTED_HOSTS": "portal.acme.example"})  # trusted hosts alone are not enough
    settings = Settings.from_env({**base, "PORTAL_PUBLIC_URL": "https://portal.acme.example"})
    assert settings.trusted_hosts == ["portal.acme.example"]  # production's default: that address's host alone


def test_trusted_hosts_default_to_the_quickstart_addresses_and_portal_public_url(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path)}
    assert Settings.from_env(base).trusted_hosts == ["localhost", "127.0.0.1"]
    assert Settings.from_env({**base, "PORTAL_PUBLIC_URL": "https://Portal.Acme.example/"}).trusted_hosts == [
        "localhost", "127.0.0.1", "portal.acme.example"]
    assert Settings.from_env({**base, "TRUSTED_HOSTS": "Portal.Acme.example, .acme.example"}).trusted_hosts == [
        "portal.acme.example", ".acme.example"]


def test_trusted_proxies_is_a_count_that_defaults_to_none(tmp_path):
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path)}).trusted_proxies == 0
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path), "TRUSTED_PROXIES": "2"}).trusted_proxies == 2


def test_gunicorn_with_several_workers_and_the_embedded_simulator_refuses_to_start(monkeypatch):
    import importlib.util
    from pathlib import Path
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("gunicorn_conf", Path(__file__).resolve().parents[1] / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    for name in ("SIR_API_URL", "SIR_SANDBOX_URL", "SIR_PRODUCTION_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit, match="python -m simulator --port 4010"):
        conf.on_starting(SimpleNamespace(cfg=SimpleNamespace(workers=4)))
    conf.on_starting(SimpleNamespace(cfg=SimpleNamespace(workers=1)))  # one worker with threads is fine
    monkeypatch.setenv("SIR_API_URL", "http://127.0.0.1:4010")
    conf.on_starting(SimpleNamespace(cfg=SimpleNamespace(workers=4)))


def load_gunicorn_conf():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("gunicorn_conf", Path(__file__).resolve().parents[1] / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


def test_each_instance_has_its_own_gunicorn_control_socket_in_its_instance_folder(tmp_path, monkeypatch):
    from gunicorn.config import Config

    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    sockets = []
    for name in ("one", "two"):
        monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / name))
        sockets.append(load_gunicorn_conf().control_socket)
    assert sockets == [str(tmp_path / "one" / "gunicorn.ctl"), str(tmp_path / "two" / "gunicorn.ctl")]
    monkeypatch.setenv("GUNICORN_CONTROL_SOCKET", "/run/portal-a.ctl")
    conf = load_gunicorn_conf()
    assert conf.control_socket == "/run/portal-a.ctl"
    gunicorn = Config()  # gunicorn knows every setting the file sets, with a value it accepts
    for setting in ("control_socket", "graceful_timeout", "timeout", "bind", "threads"):
        gunicorn.set(setting, getattr(conf, setting))
    assert gunicorn.graceful_timeout >= 13  # longer than one SIR Giving call at the default timeouts


def test_a_restarted_portal_still_has_a_working_credential(tmp_path):
    from tests.conftest import AuthActions, make_app

    first = make_app(tmp_path)
    client = first.test_client()
    AuthActions(client).sign_in("acme")
    first.extensions["simulator_app"].extensions["sir_simulator"].flush()
    restarted = make_app(tmp_path)  # same instance folder: same database, secrets and simulator state
    again = restarted.test_client()
    AuthActions(again).login("acme")
    overview = again.get("/")
    assert overview.status_code == 200 and "Acme Rewards" in overview.get_data(as_text=True)


def test_a_gunicorn_worker_compiles_every_template_and_readies_its_upstream_threads_before_its_first_request(
        app, monkeypatch):
    import threading
    from types import SimpleNamespace

    from webapp.parallel import POOL

    compiled_before = {name for (_, name) in app.jinja_env.cache.keys()} if app.jinja_env.cache else set()
    assert "dashboard/page.html" not in compiled_before
    client, readied = app.extensions["sir_client"], []
    real_open = client.open_thread_connections
    monkeypatch.setattr(client, "open_thread_connections",
                        lambda: readied.append(threading.current_thread().name) or real_open())
    load_gunicorn_conf().post_worker_init(SimpleNamespace(wsgi=app))
    compiled = {name for (_, name) in app.jinja_env.cache.keys()}
    assert {"base.html", "dashboard/page.html", "dashboard/_trends.html", "keys/page.html"} <= compiled
    assert len(compiled) == len(app.jinja_env.list_templates(extensions=["html"]))
    # Every upstream worker thread opened its cache connections (SQLite: one per thread) ahead.
    assert len(set(readied)) == POOL.workers and all(name.startswith("upstream") for name in readied)


def test_a_worker_whose_threads_cannot_ready_their_connections_still_starts_and_says_so(app, monkeypatch, caplog):
    from types import SimpleNamespace

    def cannot():
        raise OSError("disk full")

    from webapp.parallel import POOL

    monkeypatch.setattr(app.extensions["sir_client"], "open_thread_connections", cannot)
    load_gunicorn_conf().post_worker_init(SimpleNamespace(wsgi=app))
    assert (f"{POOL.workers} of {POOL.workers} upstream worker threads could not open their cache connections ahead"
            in caplog.text)


def test_the_benches_bare_page_starts_under_the_same_gunicorn_settings(monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("bare_app", Path(__file__).resolve().parents[1] / "bench" / "bare_app.py")
    bare = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bare_app", bare)  # so Flask finds its folder (bench/), as gunicorn's cwd
    spec.loader.exec_module(bare)
    load_gunicorn_conf().post_worker_init(SimpleNamespace(wsgi=bare.app))  # no SIR client: nothing to ready
    assert bare.app.test_client().get("/bare?size=2000").status_code == 200
