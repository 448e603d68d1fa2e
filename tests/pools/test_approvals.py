"""webapp/pools/approvals.py called directly: approval times and too-late warnings as arithmetic, then the
requests and pools pages' data against the in-process simulator (no test client)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from webapp.pools.approvals import (ApprovalTimes, approval_times, decided_since, follow_up, pools_with_requests,
                                    too_late)
from webapp.pools.runway import Runway
from webapp.sir.models import AllocationRequest, TokenPool

START = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def asked(pool_id, status="pending", days=None, request_id=None, amount=1000):
    """A request sent at START; decided `days` later when it is not pending."""
    decided = START + timedelta(days=days) if days is not None else None
    return AllocationRequest(request_id or f"r-{pool_id}-{status}-{days}-{amount}", pool_id, pool_id.title(), amount,
                             "reason enough", status, START, decided, None)


def pool(pool_id, balance, threshold=5000):
    return TokenPool(pool_id, pool_id.title(), "sandbox", "active", balance, balance, 0, threshold)


def lasting(days, balance=1000):
    """A runway that lasts `days` at the current pace (None: nothing drawn)."""
    burn = balance / days if days else 0.0
    return Runway(balance=balance, daily_burn=burn, daily_burn_30d=burn, data_days=30, today=None)


# -- arithmetic --------------------------------------------------------------------------------------

def test_approval_times_are_those_of_approvals_when_there_are_any():
    items = [asked("a", "approved", 2.5), asked("a", "approved", 3.0), asked("b", "rejected", 9), asked("c")]
    assert approval_times(items) == [2.5, 3.0]
    assert approval_times([asked("b", "rejected", 9), asked("c")]) == [9.0]  # else every decision
    times = ApprovalTimes.of(items)
    assert (times.typical_days, times.slowest_days, times.decided) == (2.75, 3.0, 2)
    assert ApprovalTimes.of([asked("c")]) == ApprovalTimes(None, None, 0)


def test_a_decision_in_the_same_second_as_a_fetch_counts_as_after_it():
    decided = [asked("a", "approved", 1)]
    moment = START + timedelta(days=1)
    assert decided_since(decided, moment)
    assert decided_since(decided, moment + timedelta(milliseconds=900))
    assert not decided_since(decided, moment + timedelta(seconds=1))
    assert not decided_since([asked("a")], START)


def test_one_warning_per_pool_that_runs_out_before_approvals_usually_come():
    items = [asked("short", amount=1000), asked("long"), asked("short", amount=2000), asked("empty"),
             asked("unknown"), asked("short", "approved", 1)]
    runways = {"short": (pool("short", 1000), lasting(2)), "long": (pool("long", 1000), lasting(10)),
               "empty": (pool("empty", 0), lasting(None, balance=0))}
    warnings = too_late(items, runways, typical_days=3)
    assert [(w.pool.id, [r.amount for r in w.requests]) for w in warnings] == [("short", [1000, 2000]), ("empty", [1000])]
    assert too_late(items, runways, typical_days=None) == []  # nothing decided yet: no yardstick


# -- against the simulator ---------------------------------------------------------------------------

def test_the_seeded_approvals_give_the_typical_time_and_warn_for_the_low_pool(acme, simulator):
    actor, api = acme
    shown = follow_up(api)
    assert round(shown.times.typical_days, 1) == 2.8 and shown.times.decided == 2  # the seeded 2.5 and 3.0 days
    low = next(p for p in simulator.pools_for(actor.partner_id, "sandbox") if 0 < p.balance < p.low_balance_threshold)
    assert [w.pool.id for w in shown.warnings] == [low.id]
    pending = follow_up(api, status="pending")
    assert pending.listing.value.items and {r.status for r in pending.listing.value.items} == {"pending"}
    first = pending.listing.value.items[0]
    assert pending.request(first.id) == first and pending.request(None) is None


def test_the_list_stands_when_the_runways_cannot_be_worked_out(acme, simulator):
    _, api = acme
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/trends", status=503)
    shown = follow_up(api)
    assert shown.forecast is None and shown.warnings == []
    assert shown.listing.value.items and shown.times.decided == 2


def test_a_decision_since_the_balances_were_cached_has_them_asked_again(acme, simulator):
    actor, api = acme
    low = next(p for p in simulator.pools_for(actor.partner_id, "sandbox") if 0 < p.balance < p.low_balance_threshold)
    before = pools_with_requests(api).forecast.value.pool(low.id)[0].balance  # now cached
    pending = pools_with_requests(api).pending_by_pool[low.id]
    simulator.decide_allocation_request(pending[0].id, approve=True)
    after = pools_with_requests(api)
    assert after.forecast.value.pool(low.id)[0].balance == before + pending[0].amount
    assert pending[0].id not in [r.id for r in after.pending_by_pool.get(low.id, [])]
