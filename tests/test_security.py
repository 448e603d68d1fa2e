"""Security headers and Server-Timing on every response."""

import re

import pytest

from tests.conftest import page


@pytest.mark.parametrize("path", ["/login", "/healthz", "/no-such-page", "/static/app.css"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "total;dur=" in response.headers["Server-Timing"]


def test_the_style_nonce_changes_per_request_and_matches_the_page(client):
    first, second = client.get("/login"), client.get("/login")
    nonce = first.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert nonce != second.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    # plotly.js adds its rules to this element through CSSOM; the nonce is what lets it exist.
    plotly_sheet = page(first).find("style", id="plotly.js-style-global")
    assert plotly_sheet is not None and plotly_sheet.get("nonce") == nonce


def test_pages_have_no_inline_scripts_or_handlers(client, auth):
    auth.sign_in("acme")
    for path in ("/login", "/", "/audit/", "/onboarding/"):
        soup = page(client.get(path))
        for script in soup.find_all("script"):
            assert script.get("src") or script.get("type") == "application/json", (path, str(script)[:80])
        for tag in soup.find_all(True):
            assert not any(name.startswith("on") for name in tag.attrs), (path, tag.name)
            assert "style" not in tag.attrs, (path, tag.name)


def test_server_timing_counts_upstream_calls_and_cache_hits(client, auth):
    auth.sign_in("acme")
    card = {"HX-Request": "true"}  # a card partial: its one call, then its cached answer
    cold = client.get("/overview/cards/trends", headers=card)
    warm = client.get("/overview/cards/trends", headers=card)
    assert re.search(r'[1-9]\d* upstream call', cold.headers["Server-Timing"])
    assert '0 upstream call(s)' in warm.headers["Server-Timing"]


def test_the_streamed_overview_says_its_calls_follow_its_head(client, auth):
    auth.sign_in("acme")
    timing = client.get("/").headers["Server-Timing"]
    assert 'sir;desc="streamed: calls follow the head"' in timing and re.search(r"head;dur=\d", timing)


def test_a_missing_page_says_so_without_a_traceback(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_the_form_expired_page_links_back_into_the_portal_never_to_the_referring_site(client, auth):
    auth.sign_in("acme")
    from_elsewhere = client.post("/environment", data={"environment": "production"},
                                 headers={"Referer": "https://evil.example/phish"})
    assert from_elsewhere.status_code == 400
    again = page(from_elsewhere).find("a", string="Try again")
    assert again is not None and again["href"] == "/"
    from_our_page = client.post("/environment", data={"environment": "production"},
                                headers={"Referer": "http://localhost/token-pools/?refresh=1"})
    assert page(from_our_page).find("a", string="Try again")["href"] == "/token-pools/?refresh=1"


def test_private_pages_and_exports_are_never_stored_by_the_browser(client, auth):
    auth.sign_in("acme")
    for path in ("/", "/audit/", "/audit/export.csv", "/login"):
        cache_control = client.get(path).headers["Cache-Control"]
        assert "no-store" in cache_control and "no-cache" not in cache_control, (path, cache_control)
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")


def test_a_post_from_another_origin_is_refused_even_with_a_valid_token(client, auth):
    from tests.conftest import csrf_token_from, text_of

    auth.sign_in("acme")
    token = csrf_token_from(client.get("/audit/"))
    for origin in ("https://evil.example", "null", "http://localhost.evil.example", "http://localhost:8080"):
        refused = client.post("/environment", data={"environment": "production", "csrf_token": token},
                              headers={"Origin": origin})
        assert refused.status_code == 400 and "Form expired" in text_of(refused), origin
        with client.session_transaction() as stored:
            assert stored["environment"] == "sandbox"
    ours = client.post("/environment", data={"environment": "production", "csrf_token": token},
                       headers={"Origin": "http://localhost"})
    assert ours.status_code == 302
    with client.session_transaction() as stored:
        assert stored["environment"] == "production"


def test_a_sign_in_posted_from_another_site_is_refused(client):
    from tests.conftest import form_values

    data = form_values(client.get("/login"), "form#login-form")
    data.update(email="admin@acme.example", password="sandbox-demo")
    assert client.post("/login", data=data, headers={"Origin": "https://evil.example"}).status_code == 400
    assert client.post("/login", data=data, headers={"Origin": "http://localhost"}).status_code == 302


def test_the_csrf_token_is_masked_afresh_in_every_response_and_each_is_accepted(client, auth):
    import base64
    import json

    from tests.conftest import csrf_token_from, page

    auth.sign_in("acme")
    first, second = client.get("/audit/?action=key_created"), client.get("/audit/?action=key_created")
    tokens = [csrf_token_from(first), csrf_token_from(second)]
    # BREACH: a compressed page that reflects what the address asked for must not carry the same secret twice,
    # nor the token in any form Flask-WTF keeps it in (the session's raw token, the signed token's payload).
    assert tokens[0] != tokens[1]
    with client.session_transaction() as stored:
        raw = stored["csrf_token"]
    payload = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    for body in (first.get_data(as_text=True), second.get_data(as_text=True)):
        assert raw not in body and payload not in body
    fields = [field["value"] for field in page(first).select("input[name=csrf_token]")]
    assert fields and tokens[0] not in fields and len(set(fields)) == len(fields)
    for token, environment in zip(tokens, ("production", "sandbox")):
        moved = client.post("/environment", data={"environment": environment, "csrf_token": token})
        assert moved.status_code == 302
        with client.session_transaction() as stored:
            assert stored["environment"] == environment


def test_a_masked_token_is_accepted_from_htmx_s_header_and_a_tampered_one_is_refused(client, auth):
    from tests.conftest import csrf_token_from, text_of

    auth.sign_in("acme")
    token = csrf_token_from(client.get("/audit/"))
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    refused = client.post("/environment", data={"environment": "production"}, headers={"X-CSRFToken": tampered})
    assert refused.status_code == 400 and "Form expired" in text_of(refused)
    with client.session_transaction() as stored:
        assert stored["environment"] == "sandbox"
    moved = client.post("/environment", data={"environment": "production"}, headers={"X-CSRFToken": token})
    assert moved.status_code == 302
    with client.session_transaction() as stored:
        assert stored["environment"] == "production"
