"""Shared by the alert tests: an app whose e-mail goes to a local SMTP server, and the settings form."""

from __future__ import annotations

from tests.conftest import make_app, post_form


def alert_env(smtp_port: int, **more) -> dict:
    """SMTP on a local server (plain: it is on loopback), chat webhooks allowed on loopback (ALERT_CHAT_TO)."""
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "SMTP_FROM": "alerts@portal.acme.example",
            "SMTP_TLS": "none", "ALERT_CHAT_TO": "anywhere", **more}


def alert_app(tmp_path, smtp_port: int, **more):
    return make_app(tmp_path, alert_env(smtp_port, **more))


def save_settings(client, **fields):
    values = {"recipients": "ops@acme.example, oncall@acme.example", "chat_url": "", "failing_after": "3"}
    values.update(fields)
    return post_form(client, "/alerts/", "form#alert-settings", **values)
