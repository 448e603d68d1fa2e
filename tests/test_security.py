"""Security headers and Server-Timing on every response."""

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
    cold = client.get("/")
    warm = client.get("/")
    assert 'upstream call' in cold.headers["Server-Timing"]
    assert '0 upstream call(s)' in warm.headers["Server-Timing"]


def test_a_missing_page_says_so_without_a_traceback(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)
