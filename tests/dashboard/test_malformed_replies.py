"""A reply with a null or wrong-typed field the portal needs is the client's MalformedReply naming the
endpoint and the field: the one card says so with a retry, the rest of the page renders, never a 500."""

from __future__ import annotations

import json

import pytest

from tests.conftest import page, text_of


class Rewrite:
    """Around the simulator's WSGI app: `change(payload)` applied to the JSON answers of one path."""

    def __init__(self, wsgi_app, path: str, change):
        self.wsgi_app, self.path, self.change = wsgi_app, path, change

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != self.path:
            return self.wsgi_app(environ, start_response)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)

        body = b"".join(self.wsgi_app(environ, capture))
        payload = json.loads(body)
        body = json.dumps(self.change(payload)).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture
def rewrite(app):
    simulator_app = app.extensions["simulator_app"]

    def install(path, change):
        simulator_app.wsgi_app = Rewrite(simulator_app.wsgi_app, path, change)
    return install


def test_a_null_balance_fails_only_the_summary_card_naming_the_field(signed_in, rewrite):
    rewrite("/v1/partner/dashboard/summary", lambda p: {**p, "pool": {**p["pool"], "balance": None}})
    overview = signed_in.get("/")
    assert overview.status_code == 200
    card = signed_in.get("/overview/cards/summary", headers={"HX-Request": "true"})
    assert card.status_code == 200
    alert = page(card).select_one("[role=alert]")
    assert alert is not None and "SIR Giving sent an unreadable answer" in alert.get_text(" ", strip=True)
    assert "pool.balance" in alert.get_text(" ", strip=True) and "/v1/partner/dashboard/summary" in alert.get_text()
    assert page(card).select_one("button[hx-get]") is not None  # retry
    trends = signed_in.get("/overview/cards/trends", headers={"HX-Request": "true"})
    assert trends.status_code == 200 and page(trends).select_one("[role=alert]") is None


def test_a_wrong_typed_pool_field_is_an_unreadable_answer_page_not_a_500(signed_in, rewrite):
    def bad(payload):
        pools = payload["data"] if isinstance(payload, dict) else payload
        pools[0]["balance"] = "lots"
        return payload
    rewrite("/v1/partner/token-pools", bad)
    shown = signed_in.get("/token-pools/?refresh=1")
    assert shown.status_code == 502
    assert "SIR Giving sent an unreadable answer" in text_of(shown) and "balance" in text_of(shown)


def test_unknown_fields_are_ignored_and_absent_optional_ones_default(app):
    from webapp.sir.models import ApiKey, TokenPool

    pool = TokenPool.parse({"id": "p", "name": "Main", "balance": 10, "lowBalanceThreshold": 5, "allocated": None,
                            "somethingNew": {"x": 1}})
    assert (pool.allocated, pool.status, pool.created_at) == (0, "active", None)
    key = ApiKey.parse({"id": "k", "name": "n", "environment": "sandbox"})
    assert key.key_type == "secret" and not key.last_used_known
    with pytest.raises(Exception) as caught:
        pool.balance = 3  # frozen
    assert "frozen" in str(caught.value).lower()
