"""Where the go-live signature check may send its forged deliveries: only the partner's own registered production
URL, only public addresses (resolved and checked before anything is sent); configuration may allow a local
handler, never in production."""

from __future__ import annotations

import pytest

from config import ConfigError, Settings
from tests.addresses import listener, resolver
from tests.conftest import post_form, text_of
from tests.golive.test_checklist import rows, switch_to_production


def give_production_endpoint(client, url: str) -> None:
    post_form(client, "/keys/new", "form#create-key", name="Live backend", environment="production",
              key_type="secret", use_for_portal="y")
    switch_to_production(client)
    registered = post_form(client, "/webhooks/new", "form#register-webhook", url=url, all_events="y")
    assert registered.status_code == 302, text_of(registered)


def run_check(client):
    return post_form(client, "/go-live/?refresh=1", "form[action='/go-live/signature-check']",
                     "/go-live/signature-check", headers={"HX-Request": "true"})


def test_a_name_that_resolves_to_a_private_address_is_never_sent_a_forged_delivery(app, signed_in):
    with listener() as (port, accepted):
        app.extensions["golive_resolve"] = resolver({"hooks.acme.example.com": ["127.0.0.1"]})
        give_production_endpoint(signed_in, f"https://hooks.acme.example.com:{port}/sir")
        shown = rows(signed_in.get("/go-live/?refresh=1"))
        assert shown["webhook_endpoint"]["state"] == "failing"
        assert "Not a public address: 127.0.0.1 (hooks.acme.example.com) is not a public address" in shown["webhook_endpoint"]["text"]

        row = rows(run_check(signed_in))["signature_check"]
        assert not accepted()  # nothing connected
    assert row["state"] == "unknown"
    assert "no answer (refused: 127.0.0.1 (hooks.acme.example.com) is not a public address)" in row["text"]
    assert "not answered" in text_of(signed_in.get("/audit/?action=webhook_signature_checked"))


def test_production_refuses_to_let_the_check_post_anywhere(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path), "PORTAL_ENV": "production", "SIR_API_URL": "https://devapi.sirgiving.org",
            "SECRET_KEY": "s" * 40, "VAULT_KEY": "zcVJtj3KYW0Wn6A3cjZ0lV7aZCDtY2mm2nKNbuiQmg0=",
            "PORTAL_PUBLIC_URL": "https://portal.acme.example"}
    with pytest.raises(ConfigError, match="^SIGNATURE_CHECK_TO: must be 'public' in production"):
        Settings.from_env({**base, "SIGNATURE_CHECK_TO": "anywhere"})
    with pytest.raises(ConfigError, match="^SIGNATURE_CHECK_TO: expected one of public, anywhere"):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SIGNATURE_CHECK_TO": "everywhere"})
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SIGNATURE_CHECK_TO": "anywhere"}).signature_check_to == "anywhere"
