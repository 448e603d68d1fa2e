"""The connection check (`flask --app wsgi sir check` and /connection/): one line per endpoint the portal reads,
naming how each simulator variant differs; reads only, asserted over the wire."""

from __future__ import annotations

import pytest

from tests.conftest import AuthActions, make_app, page, text_of
from tests.variants.conftest import VARIANTS
from webapp.sir.check import SIGNED_PROBES
from webapp.sir.api import AccountApi
from webapp.sir.transport import WSGITransport

# What the check must say about each variant (tests/variants/conftest.py), in the endpoint lines.
NAMED = {
    "default": "list: envelope",
    "bare-lists": "list: bare",
    "opaque-errors": "errors carry no code: read by HTTP status (404)",
    "ignore-query": "ignored limit=1",
    "extra-fields": "simUnknownFlag, simUnknownNote",
    "missing-optional": "list: data",
    "clock-400s-off": "clock  +40",  # +400 s, give or take the second `Date` is rounded to
}
ALL = {"default": "", **VARIANTS}


class Noting(WSGITransport):
    def __init__(self, app):
        super().__init__(app)
        self.sent: list[tuple[str, str]] = []

    def send(self, request, **kwargs):
        self.sent.append((request.method, request.path_url))
        return super().send(request, **kwargs)


def noted(app) -> list:
    """Every request the portal's client sends from now on, noted as it goes over the transport."""
    client = app.extensions["sir_client"]
    transport = Noting(app.extensions["simulator_app"])
    for session in (client.plain, client.cached):
        for url in {*client.base_urls.values(), client.auth_url}:
            session.mount(url, transport)
    return transport.sent


def signed_in_app(tmp_path, variant: str):
    app = make_app(tmp_path, simulator_config={"VARIANT": variant} if variant else None)
    web = app.test_client()
    AuthActions(web).sign_in("acme")
    return app, web


def endpoint_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.split(" ", 1)[0] in ("ok", "PROBLEM", "skipped")]


@pytest.mark.parametrize("name", list(ALL))
def test_the_command_names_each_variants_difference_in_one_line_per_endpoint_and_only_reads(tmp_path, name):
    app, _ = signed_in_app(tmp_path, ALL[name])
    sent = noted(app)
    result = app.test_cli_runner().invoke(args=["sir", "check"])
    lines = endpoint_lines(result.output)
    assert len(lines) == len(SIGNED_PROBES) + 1, result.output  # and the error-wording probe
    assert result.exit_code == 0, result.output
    assert all(line.startswith(("ok", "skipped")) for line in lines), result.output
    assert any(NAMED[name] in line for line in lines) or name == "clock-400s-off" and \
        all(" +399 s " in line or " +401 s " in line for line in lines), result.output
    assert sent and {method for method, _ in sent} == {"GET"}
    assert "host  signed calls with sk_test_" in result.output


def test_the_command_fails_naming_each_refused_endpoint_when_the_key_is_revoked(tmp_path):
    app, web = signed_in_app(tmp_path, "")
    sir = app.extensions["sir_client"]
    with app.app_context():
        (partner, _), = app.extensions["vault"].stored()
        key_id = app.extensions["vault"].credential_for(partner, "sandbox").key_id
    AccountApi(sir, sir.login("admin@acme.example", "sandbox-demo")["token"]).revoke_key(key_id)
    result = app.test_cli_runner().invoke(args=["sir", "check", "--partner", partner])
    assert result.exit_code == 1
    refused = [line for line in endpoint_lines(result.output) if "REFUSED" in line]
    assert refused and all(line.startswith("PROBLEM") for line in refused)
    assert "The portal's API key was refused" in result.output


def test_the_command_asks_which_partner_when_several_have_keys(tmp_path):
    app, _ = signed_in_app(tmp_path, "")
    AuthActions(app.test_client()).sign_in("globex")
    result = app.test_cli_runner().invoke(args=["sir", "check"])
    assert result.exit_code != 0 and "--partner" in result.output


@pytest.mark.parametrize("name", ["default", "bare-lists"])
def test_the_page_shows_every_endpoint_and_where_each_kind_of_call_goes(tmp_path, name):
    app, web = signed_in_app(tmp_path, ALL[name])
    sent = noted(app)
    shown = web.get("/connection/")
    assert shown.status_code == 200
    rows = page(shown).select("table.connection-endpoints tbody tr")
    assert len(rows) >= len(SIGNED_PROBES) + 1 + 3  # the key's reads, the error wording, the sign-in's reads
    assert not page(shown).select("tr.connection-problem"), text_of(shown)
    assert NAMED[name] in text_of(shown) or name == "default"
    hosts = page(shown).select_one("table.connection-hosts").get_text(" ", strip=True)
    assert "production keys' management" in hosts and "https://production.simulator.invalid" in hosts
    assert {method for method, _ in sent} == {"GET"}


def test_the_page_is_linked_from_the_footer_the_switch_and_onboarding(tmp_path):
    app, web = signed_in_app(tmp_path, "")
    for url in ("/", "/onboarding/"):
        links = page(web.get(url)).select('a[href="/connection/"]')
        assert links, url
    footer = page(web.get("/")).select_one("footer a[href='/connection/']")
    assert footer is not None
