"""A delivery's attempt history is a field the reference never names: read when it is there, and never the
reason a delivery (or the list it is in) cannot be read."""

from __future__ import annotations

from webapp.sir.models import Delivery

BASE = {"id": "dlv_1", "eventType": "action.completed", "status": "failed", "attempts": 2}


def test_a_delivery_without_a_history_reads_as_one_that_does_not_report_it():
    assert Delivery.parse(BASE).attempt_history is None
    assert Delivery.parse({**BASE, "attemptHistory": None}).attempt_history is None
    assert Delivery.parse({**BASE, "attemptHistory": "nope"}).attempt_history is None


def test_an_unreadable_attempt_is_left_out_and_the_rest_are_kept():
    history = [{"attemptedAt": "2026-11-25T10:00:00Z", "responseStatus": 503, "durationMs": 12.5,
                "requestHeaders": {"X-SIR-Timestamp": "1764064800", "simUnknownFlag": True}},
               {"attemptedAt": "not a time", "responseStatus": "many"},
               {"attemptedAt": "2026-11-25T10:00:30Z", "error": "ConnectionError: refused"}]
    first, last = Delivery.parse({**BASE, "attemptHistory": history}).attempt_history
    assert first.response_status == 503 and first.duration_ms == 12.5 and not first.succeeded
    assert first.request_headers == {"X-SIR-Timestamp": "1764064800"}  # the unknown field is dropped
    assert last.error == "ConnectionError: refused" and last.response_status is None
