"""The scheduled checks (`flask alerts run`, the in-process schedule): each condition sends exactly one e-mail and
one chat message a day to real local servers, even with two workers running the schedule at once; each alert is
in the audit log with a link to the page that fixes it. The clock is the simulator's, moved to 06:00 UTC first, so
nothing depends on the time of day the tests run at."""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter

import pytest
from sqlalchemy import select

from tests.alerts.helpers import alert_app, save_settings
from tests.alerts.servers import chat_listener, smtp_server
from tests.conftest import AuthActions, expire_cached_answers, make_app, partner_api_for
from webapp.alerts.run import run, run_partner
from webapp.store import alerts as store
from webapp.store.models import AuditEntry

DAY = 86400


@pytest.fixture
def servers():
    with smtp_server() as (port, mailbox), chat_listener() as (url, hook):
        yield port, mailbox, url, hook


DATABASE_URL = os.environ.get("DATABASE_URL")


@pytest.fixture
def database_env(request):
    """The portal's database: SQLite (the embedded default) unless a test asks for PostgreSQL (a schema of its own,
    on the machine's DATABASE_URL, dropped afterwards)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield {}
        return
    if not DATABASE_URL:
        pytest.skip("DATABASE_URL is not set")
    from sqlalchemy import create_engine, text

    url = DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield {"DATABASE_URL": f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"}
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def app(tmp_path, servers, database_env):
    app = alert_app(tmp_path, servers[0], PORTAL_PUBLIC_URL="https://portal.acme.example", **database_env)
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def sim_of(app):
    return app.extensions["simulator_app"].extensions["sir_simulator"]


def at_six_in_the_morning(app) -> None:
    """Move SIR Giving's clock (the portal's one clock) to the next 06:00 UTC: a day of runs ahead of it."""
    sim = sim_of(app)
    sim.advance_clock((6 * 3600 - sim.now() % DAY) % DAY)


def move(app, seconds: float) -> None:
    sim_of(app).advance_clock(seconds)
    expire_cached_answers(app)  # what SIR Giving says changed with time; the run asks again


@pytest.fixture
def acme(app, servers):
    """Acme's admin signed in, alerts sent to two addresses and the local chat webhook, a top-up decided after,
    and the key list read once (as any page does), so the checks know the seeded key expiring in 10 days."""
    at_six_in_the_morning(app)
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    assert save_settings(client, chat_url=servers[2]).status_code == 302
    api = partner_api_for(app, client)
    pool = api.token_pools().value[0]
    request = api.request_top_up(pool.id, 5000, "Spring campaign")
    sim_of(app).decide_allocation_request(request.id, True, "Enjoy")
    with client.session_transaction() as session:
        session.pop("key_flags", None)
        partner_id = session["partner"]["id"]
    assert client.get("/audit/").status_code == 200
    return client, partner_id, request.id


def second_worker(app, tmp_path, smtp_port, database_env=None):
    """Another worker: its own app on the same database and vault key, talking to the same SIR Giving (and so
    on the same clock)."""
    other = make_app(tmp_path, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
                                "SMTP_FROM": "alerts@portal.acme.example", "SMTP_TLS": "none",
                                "ALERT_CHAT_TO": "anywhere", "PORTAL_PUBLIC_URL": "https://portal.acme.example",
                                **(database_env or {})})
    other.extensions["sir_client"] = app.extensions["sir_client"]
    return other


def at_once(*calls):
    """Run each call in its own thread, released together; their results in order."""
    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def go(index, call):
        start.wait()
        results[index] = call()

    threads = [threading.Thread(target=go, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def run_in(app):
    with app.app_context():
        return run(app)


def sent_rows(app, partner_id):
    with app.app_context():
        return store.sent_for(partner_id, limit=1000)


def alert_audit(app, partner_id):
    with app.app_context():
        return list(app.extensions["sqlalchemy"].session.scalars(
            select(AuditEntry).filter_by(partner_id=partner_id, action="alert_sent").order_by(AuditEntry.id)))


@pytest.mark.parametrize("database_env", ["sqlite", "postgresql"], indirect=True)
def test_each_condition_sends_one_email_and_one_chat_message_with_two_workers_at_once(app, acme, servers, tmp_path,
                                                                                     database_env):
    client, partner_id, request_id = acme
    _port, mailbox, _url, hook = servers
    other = second_worker(app, tmp_path, servers[0], database_env)
    first, second = at_once(lambda: run_in(app), lambda: run_in(other))
    assert sorted([first.ran, second.ran]) == [False, True]  # one run for the interval; the other found it taken
    rows = sent_rows(app, partner_id)
    conditions = Counter(row.condition for row in rows)
    assert {"key_expiring", "pool_low", "webhook_failing", "top_up_decided"} <= set(conditions)
    assert len(mailbox.messages) == len(hook.posts) == len(rows) == (first.sent or second.sent)
    # One e-mail and one chat message per alert, each naming it, each with the link to the page that fixes it.
    for row in rows:
        assert sum(row.message in m.get_content() for _, _, m in mailbox.messages) == 1, row.message
        assert sum(text.startswith(row.message) for text in hook.texts) == 1, row.message
        assert row.link.startswith("https://portal.acme.example/")
        assert row.email_result.startswith("Sent through 127.0.0.1:") and row.chat_result.startswith("Posted")
    for _, recipients, message in mailbox.messages:
        assert recipients == ["ops@acme.example", "oncall@acme.example"]
        assert message["Subject"].strip().startswith("[Partner Ops] ")  # a long subject is folded
    key = next(r for r in rows if r.condition == "key_expiring")
    assert key.subject.endswith(":14d") and "“Legacy batch job” (sandbox) expires in 10 days" in key.message
    assert key.link == f"https://portal.acme.example/keys/{key.subject.split(':')[0]}/roll"
    decided = next(r for r in rows if r.condition == "top_up_decided")
    assert decided.subject == request_id and "SIR Giving approved the top-up of 5,000 tokens" in decided.message
    assert decided.link == "https://portal.acme.example/token-pools/requests?status=approved"
    # The audit log holds each alert: what, where it went, and how.
    entries = alert_audit(app, partner_id)
    assert Counter(e.target.split()[0] for e in entries) == conditions
    assert all(e.actor == "alerts (scheduled)" and e.outcome == "success" and "Sent through" in e.detail
               and "Posted to the chat webhook" in e.detail for e in entries)
    assert "alert sent" in client.get("/audit/?action=alert_sent").get_data(as_text=True).replace("_", " ")


def test_the_next_runs_of_the_day_send_nothing_again_and_the_next_day_sends_the_daily_ones(app, acme, servers):
    client, partner_id, _ = acme
    _port, mailbox, _url, hook = servers
    first = run_in(app)
    count = len(mailbox.messages)
    daily = {(r.condition, r.subject) for r in sent_rows(app, partner_id) if r.condition in ("pool_low",
                                                                                            "webhook_failing")}
    for _ in range(3):  # later intervals of the same day
        move(app, 20 * 60)
        again = run_in(app)
        assert again.ran and again.sent == 0
    assert len(mailbox.messages) == len(hook.posts) == count == first.sent
    move(app, DAY)
    next_day = run_in(app)
    rows = sent_rows(app, partner_id)
    today = {(r.condition, r.subject) for r in rows[:next_day.sent]}
    assert today == daily  # still low, still failing; the key's 14-day stage and the decision went once already
    assert len(mailbox.messages) == len(hook.posts) == count + len(daily)


def test_a_key_is_alerted_again_within_three_days_and_within_one_day_of_expiry(app, acme, servers):
    client, partner_id, _ = acme
    sim = sim_of(app)
    (key,) = [k for k in sim.keys.values() if k.partner_id == partner_id and k.name == "Legacy batch job"]
    run_in(app)
    for days_left in (2.5, 0.75, 0.25):  # the last: still within the last day, so not again
        move(app, key.expires_at - days_left * DAY - sim.now())
        run_in(app)
    stages = [r.subject.split(":")[1] for r in reversed(sent_rows(app, partner_id)) if r.condition == "key_expiring"]
    assert stages == ["14d", "3d", "1d"]


@pytest.mark.parametrize("database_env", ["sqlite", "postgresql"], indirect=True)
def test_two_runs_that_both_go_past_the_interval_claim_still_send_each_alert_once(app, acme, servers, tmp_path,
                                                                                 database_env):
    """Even without the interval's claim (a clock that jumps, a run that overran), the per-alert claim holds."""
    client, partner_id, _ = acme
    _port, mailbox, _url, hook = servers
    other = second_worker(app, tmp_path, servers[0], database_env)

    def partner_run(worker):
        with worker.app_context():
            problems = []
            return run_partner(worker, store.settings_for(partner_id), problems)

    sent = at_once(lambda: partner_run(app), lambda: partner_run(other))
    rows = sent_rows(app, partner_id)
    assert sum(sent) == len(rows) == len(mailbox.messages) == len(hook.posts) > 0


def test_the_portals_key_refused_sends_one_alert_that_points_at_the_fix(app, acme, servers):
    client, partner_id, _ = acme
    _port, mailbox, _url, hook = servers
    with app.app_context():
        key_id = app.extensions["vault"].record_for(partner_id, "sandbox").key_id
    sim_of(app).revoke_key(partner_id, key_id)
    expire_cached_answers(app)
    run_in(app)
    move(app, 20 * 60)
    run_in(app)
    (row,) = sent_rows(app, partner_id)
    assert row.condition == "credential_refused" and row.link == "https://portal.acme.example/onboarding/"
    assert "SIR Giving refused the key the portal signs with in sandbox" in row.message
    assert len(mailbox.messages) == len(hook.posts) == 1
    assert mailbox.messages[0][2]["Subject"].strip() == "[Partner Ops] SIR Giving refused the portal's sandbox key"
    (entry,) = alert_audit(app, partner_id)
    assert entry.target == "credential_refused sandbox"


def test_a_broken_channel_does_not_stop_the_other_and_the_page_says_so(tmp_path):
    from tests.alerts.servers import free_port

    with chat_listener() as (url, hook):
        app = alert_app(tmp_path, free_port())  # no mail server there
        at_six_in_the_morning(app)
        client = app.test_client()
        AuthActions(client).sign_in("acme")
        save_settings(client, chat_url=url)
        result = run_in(app)
    assert result.sent > 0 and len(hook.posts) == result.sent
    with client.session_transaction() as session:
        partner_id = session["partner"]["id"]
    assert all(e.outcome == "failure" and "refused the connection" in e.detail for e in alert_audit(app, partner_id))
    shown = client.get("/alerts/")
    assert shown.status_code == 200
    from tests.conftest import page

    status = page(shown).select_one(".channel-status[data-channel=email]").get_text(" ")
    assert "Not working" in status and "refused the connection" in status
    assert "Working" in page(shown).select_one(".channel-status[data-channel=chat]").get_text(" ")


def test_a_check_sir_giving_cannot_answer_is_named_on_the_page_and_the_others_still_alert(app, acme, servers):
    client, partner_id, _ = acme
    sim_of(app).add_fault("GET", "/v1/partner/dashboard/webhooks/health", status=503)
    result = run_in(app)
    conditions = {r.condition for r in sent_rows(app, partner_id)}
    assert "webhook_failing" not in conditions and {"key_expiring", "pool_low", "top_up_decided"} <= conditions
    assert result.problems == [f"{partner_id} sandbox: the webhooks could not be checked (SIR Giving had an internal error)."]
    from tests.conftest import page

    shown = page(client.get("/alerts/")).select_one("#not-checked").get_text(" ")
    assert "sandbox: the webhooks could not be checked (SIR Giving had an internal error)." in " ".join(shown.split())
    assert partner_id not in shown


def test_an_endpoint_alerts_only_once_it_has_failed_as_many_times_in_a_row_as_the_partner_set(app, acme):
    client, partner_id, _ = acme
    with app.app_context():
        api = app.extensions["sir_client"]
        from webapp.sir.api import PartnerApi

        credential = app.extensions["vault"].credential_for(partner_id, "sandbox")
        failures = {e.webhook_id: e.consecutive_failures
                    for e in PartnerApi(api, credential, "sandbox").webhook_health().value}
    most = max(failures.values())
    assert most >= 3
    assert save_settings(client, failing_after=str(most + 1)).status_code == 302
    run_in(app)
    assert "webhook_failing" not in {r.condition for r in sent_rows(app, partner_id)}
    assert save_settings(client, failing_after=str(most)).status_code == 302
    move(app, 20 * 60)
    run_in(app)
    failing = [r for r in sent_rows(app, partner_id) if r.condition == "webhook_failing"]
    assert [r.subject for r in failing] == [w for w, n in failures.items() if n >= most]
    assert f"failed {most} deliveries in a row" in failing[0].message


def test_a_pool_above_its_threshold_that_runs_out_before_approvals_usually_come_alerts(app, acme):
    client, partner_id, _ = acme
    sim = sim_of(app)
    with app.app_context():
        from webapp.pools.approvals import ApprovalTimes, every_request
        from webapp.pools.forecast import pool_runways
        from webapp.sir.api import PartnerApi

        api = PartnerApi(app.extensions["sir_client"], app.extensions["vault"].credential_for(partner_id, "sandbox"),
                         "sandbox")
        typical = ApprovalTimes.of(every_request(api).value.items).typical_days
        busiest, runway = max(pool_runways(api).value.rows, key=lambda row: row[1].pace)
    assert typical and runway.pace > 0
    # A few hours' worth of tokens left at its pace, and no threshold: it is not "low", only about to run out.
    pool = sim.pools[busiest.id]
    pool.low_balance_threshold = 0
    pool.allocated = pool.consumed + max(1, int(runway.pace * typical / 4))
    expire_cached_answers(app)
    run_in(app)
    (alert,) = [r for r in sent_rows(app, partner_id) if r.condition == "pool_low" and r.subject == busiest.id]
    assert f"fewer than the {typical:.1f} days SIR Giving typically takes to approve a top-up" in alert.message
    assert alert.link == f"https://portal.acme.example/token-pools/{busiest.id}/top-up"


def test_an_alert_whose_run_died_mid_send_is_sent_by_a_later_run_and_only_once(app, acme, servers, monkeypatch):
    import webapp.alerts.run as alert_run

    client, partner_id, _ = acme
    _port, mailbox, _url, hook = servers

    def killed(*args, **kwargs):  # the worker dies between claiming an alert and sending it
        raise RuntimeError("worker killed mid-send")

    with monkeypatch.context() as patched:
        patched.setattr(alert_run, "send_everywhere", killed)
        run_in(app)
    claimed = sent_rows(app, partner_id)
    assert claimed and all(row.finished_at is None for row in claimed) and not mailbox.messages
    with app.app_context():  # while it might still be sending, nobody else takes it
        row = claimed[0]
        assert store.claim_alert(partner_id, row.condition, row.subject, row.day, row.environment, row.message,
                                 row.link) is None
    move(app, 16 * 60)  # past ABANDONED_AFTER: the next run takes it over (and sends the ones never claimed)
    later = run_in(app)
    assert later.ran and later.sent > len(claimed)
    assert len(mailbox.messages) == len(hook.posts) == later.sent
    rows = sent_rows(app, partner_id)
    assert len(rows) == later.sent and all(row.finished_at is not None and row.email_result for row in rows)
    abandoned = {(row.condition, row.subject, row.day) for row in claimed}
    assert abandoned <= {(row.condition, row.subject, row.day) for row in rows}  # the same claim, now sent
    move(app, 20 * 60)
    assert run_in(app).sent == 0 and len(mailbox.messages) == later.sent  # taken over once, sent once
