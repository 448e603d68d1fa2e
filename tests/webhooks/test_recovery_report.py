"""Recovery that tells the truth: before it, a test event shows whether the endpoint answers now (a warning,
never a block); after it, each delivery reads landed, failed again, still pending or not queued, exactly as
the simulator holds it, refreshed as the retries settle. One endpoint stays down, one has come back."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.conftest import AuthActions, csrf_token_from, expire_cached_answers, form_values, make_app, page

HX = {"HX-Request": "true"}


@pytest.fixture
def answers():
    return {"up": False}  # the "up" endpoint is down too until the test brings it back


@pytest.fixture
def app(tmp_path, answers):
    def deliver(url, headers, body, timeout):
        if "up.partner.test" in url and answers["up"]:
            return 200, '{"ok":true}'
        return 503, "Service Unavailable"

    return make_app(tmp_path, simulator_config={"DELIVER": deliver})


@pytest.fixture
def hooks(app, simulator):
    """Two endpoints of Acme's with 12 failed deliveries each, created after `since`."""
    partner = next(p.id for p in simulator.partners.values() if p.slug == "acme-rewards")
    made = {name: simulator.register_webhook(partner, "sandbox", f"https://{name}.partner.test/sir", name, [], True).id
            for name in ("down", "up")}
    since = datetime.fromtimestamp(int(simulator.now()) // 60 * 60, timezone.utc)
    for number in range(12):
        simulator.raise_event(partner, "sandbox", "action.completed", {"n": number})
    simulator.deliver_due()
    assert all(d.status == "failed" for d in simulator.deliveries.values() if d.webhook_id in made.values())
    expire_cached_answers(app)
    return made, since.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def signed_in(client):
    AuthActions(client).sign_in("acme")
    return client


def probe(client, simulator, hook):
    """The recover page's test event, as htmx sends it on load, then its answer once SIR Giving tried it."""
    counted = client.get(f"/webhooks/{hook}/recover?since=2026-01-01T00:00")
    form = page(counted).select_one("#probe form")
    sent = page(client.post(form["hx-post"], headers={**HX, "X-CSRFToken": csrf_token_from(counted)}))
    waiting = sent.select_one("#probe")
    assert "waiting for the endpoint's answer" in waiting.get_text() and waiting["hx-get"]
    simulator.deliver_due()
    return counted, page(client.get(waiting["hx-get"], headers=HX)).select_one("#probe")


def test_before_recovering_a_test_event_shows_whether_the_endpoint_answers_and_only_warns(signed_in, simulator, hooks, answers):
    made, _ = hooks
    answers["up"] = True
    _, up = probe(signed_in, simulator, made["up"])
    assert "answering" in up["class"][-1] and "HTTP 200" in up.get_text() and not up.has_attr("hx-get")
    counted, down = probe(signed_in, simulator, made["down"])
    assert "probe-failing" in down["class"] and "HTTP 503" in down.get_text()
    assert "will probably fail again" in down.get_text()
    assert page(counted).select_one("form#recover-form button[type=submit]")  # a warning, not a block
    sent = [d for d in simulator.deliveries.values() if d.event_type == "webhook.test"]
    assert {d.webhook_id: d.status for d in sent} == {made["up"]: "succeeded", made["down"]: "failed"}


def recover(client, hook, since):
    counted = client.get(f"/webhooks/{hook}/recover?since={since}")
    started = client.post(f"/webhooks/{hook}/recover", data=form_values(counted, "form#recover-form"))
    assert started.status_code == 302
    url = started.headers["Location"]
    for _ in range(10):
        shown = page(client.get(url))
        progress = shown.select_one("#recovery-progress")
        if progress["data-state"] == "finished":
            return url, shown
        client.post(progress["hx-post"], headers={**HX, "X-CSRFToken": csrf_token_from(client.get(url))})
    raise AssertionError("the recovery did not finish")


def outcomes(shown) -> dict[str, str]:
    return {row["id"].removeprefix("landed-"): row["data-outcome"] for row in shown.select("table.recovery-table tbody tr")}


def expected(simulator, refused=()):
    """What the simulator's record says of each delivery, in the report's words."""
    def word(d):
        if d.id in refused:
            return "not_queued"
        return {"succeeded": "landed", "failed": "failed_again"}.get(d.status, "pending")
    return word


def test_the_report_matches_the_simulator_for_an_endpoint_that_came_back_and_one_still_down(signed_in, simulator, hooks, answers):
    made, since = hooks
    answers["up"] = True
    mine = lambda hook: [d for d in simulator.deliveries.values() if d.webhook_id == hook]  # noqa: E731
    refused = sorted(mine(made["up"]), key=lambda d: d.created_at)[0]
    simulator.add_fault("POST", f"/v1/partner/webhooks/{made['up']}/deliveries/{refused.id}/retry", status=404, count=1)
    reports = {}
    for name in ("up", "down"):
        url, shown = recover(signed_in, made[name], since)
        before = outcomes(shown)
        assert len(before) == 12
        assert set(before.values()) <= {"pending", "not_queued"}  # nothing has been sent again yet
        assert shown.select_one(".recovery-summary")["data-settled"] == "no"
        assert shown.select_one("#recovery-report")["hx-get"]  # refreshed while the retries settle
        reports[name] = shown.select_one("#recovery-report")["hx-get"]
    assert outcomes(page(signed_in.get(url)))  # the full page carries the report too

    simulator.deliver_due()  # the retries go out: "up" answers now, "down" still does not
    for name in ("up", "down"):
        fragment = page(signed_in.get(reports[name], headers=HX))
        shown = outcomes(fragment)
        word = expected(simulator, {refused.id})
        assert shown == {d.id: word(d) for d in mine(made[name])}
        summary = fragment.select_one(".recovery-summary")
        assert summary["data-settled"] == "yes" and not fragment.select_one("#recovery-report").has_attr("hx-get")
        assert "done" not in fragment.get_text()
    assert simulator.deliveries[refused.id].status == "failed" and simulator.deliveries[refused.id].attempts == 1
    up = page(signed_in.get(reports["up"], headers=HX))
    assert "11 landed" in up.select_one(".recovery-summary").get_text(" ", strip=True)
    assert "1 not queued" in up.select_one(".recovery-summary").get_text(" ", strip=True)
    assert "11 of 12 landed" in text_of_fragment(up)
    down = page(signed_in.get(reports["down"], headers=HX))
    assert "12 failed again" in down.select_one(".recovery-summary").get_text(" ", strip=True)
    assert "0 of 12 landed" in text_of_fragment(down) and "still refusing them" in text_of_fragment(down)


def text_of_fragment(soup) -> str:
    return " ".join(soup.get_text(" ").split())


def test_a_report_of_another_partners_batch_is_not_found(app, signed_in, simulator, hooks):
    made, since = hooks
    url, _ = recover(signed_in, made["down"], since)
    other = app.test_client()
    AuthActions(other).sign_in("globex")
    assert other.get(url).status_code == 404
    assert other.get(url + "/report", headers=HX).status_code == 404


def test_the_test_event_sent_before_a_recovery_is_not_recovered_with_the_rest(signed_in, simulator, hooks):
    made, since = hooks
    probe(signed_in, simulator, made["down"])  # fails: the endpoint is down
    url, shown = recover(signed_in, made["down"], since)
    retried = set(outcomes(shown))
    assert len(retried) == 12 and not any(simulator.deliveries[i].event_type == "webhook.test" for i in retried)
