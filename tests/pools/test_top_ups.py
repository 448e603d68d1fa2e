"""webapp/pools/top_ups.py called directly (no test client), against the in-process simulator: what SIR
Giving records, what the form's one-time token says, and what the audit log keeps."""

from __future__ import annotations

import copy
import time

from tests.conftest import ACCOUNTS
from webapp.actor import Actor
from webapp.pools import top_ups
from webapp.pools.runway import Runway
from webapp.pools.top_ups import TopUp
from webapp.sir import errors
from webapp.sir.api import PartnerApi
from webapp.sir.models import AllocationRequest, TokenPool
from webapp.store import audit
from webapp.store.db import db

REASON = "Holiday campaign is running faster than planned"
SEND = "/v1/partner/token-pools/request"


def low_pool(simulator, actor):
    pools = sorted(simulator.pools_for(actor.partner_id, "sandbox"), key=lambda p: p.created_at)
    return next(p for p in pools if 0 < p.balance < p.low_balance_threshold)


def upstream(simulator, pool_id, amount, reason=REASON):
    """The requests SIR Giving holds for this pool, amount and reason."""
    return [r for r in simulator.requests.values() if r.pool_id == pool_id and r.amount == amount and r.reason == reason]


def audited(actor, outcome=None):
    query = audit.entries_query(actor.partner_id, action="top_up_requested", outcome=outcome)
    return [(e.outcome, e.target, e.detail) for e in db.session.scalars(query)]


def answering_after(api: PartnerApi, seconds: float) -> PartnerApi:
    """The same credential on a client that gives up waiting for an answer after `seconds`: for the one
    try whose answer is to be lost, while every other call keeps the portal's own timeout."""
    impatient = copy.copy(api.client)
    impatient.timeout = (impatient.timeout[0], seconds)
    return PartnerApi(impatient, api.credential, api.environment)


def test_a_top_up_is_sent_once_however_often_the_form_is_submitted(acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    token = top_ups.new_token(actor)
    done = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 25000, REASON))
    assert done.state == "done"
    [sent] = upstream(simulator, pool.id, 25000)
    assert done.result == {"requestId": sent.id} and sent.status == "pending"
    served = simulator.requests_served()
    again = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 25000, REASON))
    assert again.state == "already" and again.result == {"requestId": sent.id}
    assert simulator.requests_served() == served  # a resubmit after "done" sends nothing at all
    assert len(upstream(simulator, pool.id, 25000)) == 1
    assert top_ups.earlier_submission(actor, token).state == "done"
    assert audited(actor) == [("success", f"{pool.name} ({pool.id})", f"25,000 tokens: {REASON}")]


def test_a_timeout_whose_request_was_recorded_is_found_and_not_sent_twice(acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    token = top_ups.new_token(actor)
    # SIR Giving records the request two seconds late; the portal stops waiting after half a second, and
    # its look right after finds nothing yet.
    simulator.add_fault(method="POST", path=SEND, delay_ms=2000, count=1)
    lost = top_ups.request_top_up(actor, answering_after(api, 0.5), token, TopUp(pool.id, 31000, REASON))
    assert lost.state == "failed" and isinstance(lost.error, errors.UpstreamTimeout)
    assert top_ups.earlier_submission(actor, token).result == {"timed_out": True}  # the next try looks first
    assert audited(actor) == [("failure", pool.id, "TIMEOUT")]
    deadline = time.time() + 10
    while not upstream(simulator, pool.id, 31000) and time.time() < deadline:
        time.sleep(0.05)
    [recorded] = upstream(simulator, pool.id, 31000)
    found = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 31000, REASON))
    # The earlier try sent it: the page says "already sent" and shows that request.
    assert found.state == "already" and found.result == {"requestId": recorded.id}
    assert len(upstream(simulator, pool.id, 31000)) == 1
    assert audited(actor, "success") == [
        ("success", f"{pool.name} ({pool.id})", f"31,000 tokens: {REASON} (confirmed after a timeout)")]


def test_a_dropped_connection_with_nothing_recorded_is_sent_on_the_next_try(acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    token = top_ups.new_token(actor)
    simulator.add_fault(method="POST", path=SEND, drop=True, count=1)
    lost = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 12000, REASON))
    assert lost.state == "failed" and isinstance(lost.error, errors.Unreachable)
    assert upstream(simulator, pool.id, 12000) == []
    assert top_ups.earlier_submission(actor, token).state == "issued"
    sent = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 12000, REASON))
    [request] = upstream(simulator, pool.id, 12000)
    assert sent.state == "done" and sent.result == {"requestId": request.id}
    assert audited(actor, "success") == [("success", f"{pool.name} ({pool.id})", f"12,000 tokens: {REASON}")]


def test_a_lost_answer_is_looked_for_at_once_allowing_for_sir_givings_clock(acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    token = top_ups.new_token(actor)
    # SIR Giving's clock is half a minute behind the portal's, and it recorded the request before the
    # connection dropped: the look right after the lost answer finds it.
    simulator.advance_clock(-30)
    recorded = simulator.request_allocation(actor.partner_id, "sandbox", pool.id, 14000, REASON)
    simulator.advance_clock(30)
    simulator.add_fault(method="POST", path=SEND, drop=True, count=1)
    found = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 14000, REASON))
    assert found.state == "done" and found.result == {"requestId": recorded.id}
    assert len(upstream(simulator, pool.id, 14000)) == 1
    assert audited(actor) == [
        ("success", f"{pool.name} ({pool.id})", f"14,000 tokens: {REASON} (confirmed after a timeout)")]


def test_an_identical_request_from_before_the_form_is_not_taken_for_this_one(acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    simulator.advance_clock(-300)  # five minutes ago, somebody asked for the same
    earlier = simulator.request_allocation(actor.partner_id, "sandbox", pool.id, 18000, REASON)
    simulator.advance_clock(300)
    token = top_ups.new_token(actor)
    simulator.add_fault(method="POST", path=SEND, drop=True, count=1)
    assert top_ups.request_top_up(actor, api, token, TopUp(pool.id, 18000, REASON)).state == "failed"
    sent = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 18000, REASON))
    assert sent.state == "done" and sent.result["requestId"] != earlier.id
    assert len(upstream(simulator, pool.id, 18000)) == 2


def left_running(actor, token, seconds_ago: float) -> None:
    """The claim a portal killed mid-call leaves behind: "running", never finished nor released."""
    from datetime import datetime, timedelta, timezone

    from webapp.store.models import FormSubmission

    row = db.session.get(FormSubmission, token)
    row.state, row.updated_at = "running", datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)
    db.session.commit()


def call_timeout_seconds(app) -> float:
    from webapp.once import CALLS_PER_ACTION

    return CALLS_PER_ACTION * sum(app.extensions["sir_client"].timeout)


def test_a_claim_left_running_by_a_killed_portal_is_resent_after_the_timeout_when_sir_giving_has_nothing(
        app, acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    token = top_ups.new_token(actor)
    left_running(actor, token, seconds_ago=call_timeout_seconds(app) + 1)
    assert top_ups.earlier_submission(actor, token).state == "issued"  # the form may be sent again
    sent = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 21000, REASON))
    [request] = upstream(simulator, pool.id, 21000)
    assert sent.state == "done" and sent.result == {"requestId": request.id}
    assert top_ups.earlier_submission(actor, token).state == "done"
    assert audited(actor) == [("success", f"{pool.name} ({pool.id})", f"21,000 tokens: {REASON}")]


def test_a_claim_left_running_whose_request_reached_sir_giving_is_reported_already_sent_with_it(
        app, acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    token = top_ups.new_token(actor)
    # The killed portal's call had reached SIR Giving, which recorded the request.
    recorded = simulator.request_allocation(actor.partner_id, "sandbox", pool.id, 22000, REASON)
    left_running(actor, token, seconds_ago=call_timeout_seconds(app) + 1)
    found = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 22000, REASON))
    assert found.state == "already" and found.result == {"requestId": recorded.id}
    assert len(upstream(simulator, pool.id, 22000)) == 1
    assert audited(actor) == [
        ("success", f"{pool.name} ({pool.id})", f"22,000 tokens: {REASON} (confirmed after an interrupted try)")]
    again = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 22000, REASON))
    assert again.state == "already" and again.result == {"requestId": recorded.id}


def test_a_claim_still_within_the_timeout_is_left_to_the_request_that_holds_it(app, acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    token = top_ups.new_token(actor)
    left_running(actor, token, seconds_ago=call_timeout_seconds(app) - 5)
    served = simulator.requests_served()
    waiting = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 23000, REASON))
    assert waiting.state == "already" and waiting.result is None
    assert simulator.requests_served() == served and upstream(simulator, pool.id, 23000) == []
    assert top_ups.earlier_submission(actor, token).state == "running"


def test_a_refusal_is_audited_and_the_same_form_may_be_sent_again(acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    token = top_ups.new_token(actor)
    simulator.add_fault(method="POST", path=SEND, status=503, count=1)
    refused = top_ups.request_top_up(actor, api, token, TopUp(pool.id, 9000, REASON))
    assert refused.state == "failed" and refused.error.code == "INTERNAL_ERROR"
    assert top_ups.earlier_submission(actor, token).result is None  # not a lost answer: nothing to look for
    assert audited(actor) == [("failure", pool.id, "INTERNAL_ERROR")]
    assert top_ups.request_top_up(actor, api, token, TopUp(pool.id, 9000, REASON)).state == "done"
    assert len(upstream(simulator, pool.id, 9000)) == 1


def test_a_token_of_another_partner_or_none_sends_nothing(acme, simulator):
    actor, api = acme
    pool = low_pool(simulator, actor)
    other = Actor(ACCOUNTS["globex"][0], "partner-of-globex", "sandbox")
    served = simulator.requests_served()
    for token in (None, "", top_ups.new_token(other)):
        assert top_ups.request_top_up(actor, api, token, TopUp(pool.id, 5000, REASON)).state == "expired"
    assert simulator.requests_served() == served and upstream(simulator, pool.id, 5000) == []


def test_the_suggestion_counts_what_is_already_pending():
    pool = TokenPool("p1", "Promo", "sandbox", "active", 2000, 0, 0, 5000)
    pace = Runway(balance=2000, daily_burn=1000, daily_burn_30d=1000, data_days=30, today=None)
    assert top_ups.suggested_amount(pool, pace, []) == 28000  # 30 days at 1,000 a day, less the 2,000 left
    waiting = AllocationRequest("r1", "p1", "Promo", 10000, REASON, "pending", None, None, None)
    assert top_ups.suggested_amount(pool, pace, [waiting]) == 18000
