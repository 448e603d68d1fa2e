"""`/metrics`: what a Prometheus scrape reads after page views, a webhook delivery and a 429, and who may read it.

Counters belong to the process (several apps are built in one test process), so each test reads them before
and after, and asserts what moved.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import ConfigError

from tests.conftest import AuthActions, expire_cached_answers, make_app
from tests.webhooks.helpers import envelope, post_event, receiver_of, register_portal_receiver

ON_THIS_HOST = {"REMOTE_ADDR": "127.0.0.1"}


def scrape(client, **kwargs) -> dict:
    """Every sample of a scrape: {(name, frozenset(labels)): value}."""
    response = client.get("/metrics", environ_base=ON_THIS_HOST, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def total(samples: dict, name: str, **labels) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, sample_labels), value in samples.items() if sample == name and wanted <= sample_labels)


def moved(before: dict, after: dict, name: str, **labels) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def test_a_page_view_counts_upstream_calls_by_family_and_cache_result_and_the_request_by_route(app, client, auth):
    auth.sign_in("acme")
    before = scrape(client)
    assert client.get("/").status_code == 200
    middle = scrape(client)
    assert client.get("/").status_code == 200
    after = scrape(client)
    assert moved(before, middle, "portal_upstream_calls_total", family="dashboard", method="GET", status="200",
                 cache="miss") >= 1
    assert moved(before, middle, "portal_upstream_call_seconds_count", family="dashboard") >= 1
    assert moved(middle, after, "portal_upstream_calls_total", family="dashboard", cache="hit") >= 1
    assert moved(before, middle, "portal_request_seconds_count", method="GET", route="/", status="200") == 1
    assert not any(labels and dict(labels).get("route", "").startswith("/?") for _, labels in after)


def test_a_stale_answer_served_for_a_failed_call_is_counted(app, client, auth, simulator):
    auth.sign_in("acme")
    assert client.get("/").status_code == 200
    expire_cached_answers(app)
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/summary", status=503, count=1)
    before = scrape(client)
    assert client.get("/").status_code == 200
    after = scrape(client)
    assert moved(before, after, "portal_stale_answers_total", family="dashboard") == 1
    assert moved(before, after, "portal_upstream_calls_total", family="dashboard", status="503") == 1
    assert moved(before, after, "portal_upstream_calls_total", family="dashboard", cache="stale") == 1


def test_receiver_deliveries_are_counted_by_outcome_and_refusals_by_reason(app, client, auth):
    auth.sign_in("acme")
    register_portal_receiver(client)
    receiver, secret = receiver_of(app)
    sender = app.test_client()
    before = scrape(client)
    assert post_event(sender, receiver.token, secret, envelope("evt_counted")).status_code == 200
    assert post_event(sender, receiver.token, secret, envelope("evt_counted")).json["duplicate"] is True
    assert post_event(sender, receiver.token, "whsec_forger", envelope("evt_forged")).status_code == 401
    after = scrape(client)
    assert moved(before, after, "portal_receiver_deliveries_total", outcome="stored") == 1
    assert moved(before, after, "portal_receiver_deliveries_total", outcome="duplicate") == 1
    assert moved(before, after, "portal_receiver_deliveries_total", outcome="refused", reason="bad_signature") == 1
    assert moved(before, after, "portal_request_seconds_count", route="/hooks/<token>") == 3


def test_a_request_refused_by_a_rate_limit_is_counted_with_its_route(tmp_path):
    app = make_app(tmp_path, {"LOGIN_RATE_LIMIT": "1 per minute"})
    client = app.test_client()
    before = scrape(client)
    AuthActions(client).login("acme", password="wrong")
    assert AuthActions(client).login("acme", password="wrong").status_code == 429
    after = scrape(client)
    assert moved(before, after, "portal_rate_limited_total", route="/login") >= 1
    assert moved(before, after, "portal_request_seconds_count", route="/login", status="429") == 1


def test_without_a_token_only_this_host_may_read_the_metrics(app, client):
    assert client.get("/metrics", environ_base=ON_THIS_HOST).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    # A reverse proxy on this host connects from loopback, and says whom it relays.
    relayed = client.get("/metrics", environ_base=ON_THIS_HOST, headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 404


def test_with_a_token_the_metrics_need_it_from_anywhere(tmp_path):
    token_file = tmp_path / "metrics_token"
    token_file.write_text("s3cret-scrape-token\n")
    client = make_app(tmp_path, {"METRICS_TOKEN_FILE": str(token_file)}).test_client()
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
    refused = [client.get("/metrics", environ_base=ON_THIS_HOST),
               client.get("/metrics", environ_base=elsewhere, headers={"Authorization": "Bearer wrong"}),
               client.get("/metrics", environ_base=elsewhere, headers={"Authorization": "s3cret-scrape-token"})]
    assert [r.status_code for r in refused] == [401, 401, 401]
    assert refused[0].headers["WWW-Authenticate"].startswith("Bearer")
    allowed = client.get("/metrics", environ_base=elsewhere, headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert allowed.status_code == 200 and "portal_upstream_calls" in allowed.get_data(as_text=True)


def test_a_multiprocess_folder_that_cannot_be_written_stops_the_start_with_its_name(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        make_app(tmp_path)
