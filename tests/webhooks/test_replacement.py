"""Replacing an endpoint (a new URL, new event types, or a new signing secret) through its pages, with events
flowing all along: the simulator raises events before, during and after every step, and delivers them in process
to the portal's own receiver, which must end with every event exactly once. The steps are saved, audited, and
resume after a crash; bad input changes nothing; SIR Giving's refusals are said plainly."""

from __future__ import annotations

import pytest

from tests.conftest import form_values, make_app, page, text_of
from tests.webhooks.helpers import receivers, register_portal_receiver, stored_events
from webapp.store import db
from webapp.store.models import AuditEntry
from webapp.store.replacements import WebhookReplacement

TYPES = ("action.completed",)


@pytest.fixture
def inbox(app, signed_in, simulator):
    """Acme with an endpoint delivered to the portal's receiver, and the events raised so far."""
    register_portal_receiver(signed_in, event_types=TYPES)
    (row,) = receivers(app)
    acme = next(p.id for p in simulator.partners.values() if p.slug == "acme-rewards")
    return Flow(app, signed_in, simulator, acme, row.webhook_id)


class Flow:
    """Events raised every 'tick', delivered in process: `tick()` is a second of the issue's flowing events."""

    def __init__(self, app, client, simulator, partner_id, webhook_id):
        self.app, self.client, self.simulator, self.partner_id, self.webhook_id = app, client, simulator, partner_id, webhook_id
        self.raised: list[str] = []

    def raise_one(self) -> str:
        event = self.simulator.raise_event(self.partner_id, "sandbox", "action.completed", {"tick": len(self.raised)})
        self.raised.append(event["id"])
        return event["id"]

    def tick(self, deliver: bool = True) -> None:
        self.raise_one()
        if deliver:
            self.simulator.deliver_due()

    def stored_once(self) -> dict[str, int]:
        """Event id → how many rows the receiver keeps of it (action events only)."""
        counts: dict[str, int] = {}
        for event in stored_events(self.app):
            if event.event_type == "action.completed":
                counts[event.event_id] = counts.get(event.event_id, 0) + 1
        return counts

    def csrf(self, url):
        from tests.conftest import csrf_token_from

        return csrf_token_from(self.client.get(url))

    def post(self, url, page_url):
        return self.client.post(url, data={"csrf_token": self.csrf(page_url)})


def start(flow: Flow, **changes):
    form_page = flow.client.get(f"/webhooks/{flow.webhook_id}/replace")
    assert form_page.status_code == 200
    data = form_values(form_page, "form#replace-webhook")
    data.update(changes)
    return flow.client.post(f"/webhooks/{flow.webhook_id}/replace", data=data)


def replacement_row(app) -> WebhookReplacement:
    with app.app_context():
        row = db.session.scalars(db.select(WebhookReplacement).order_by(WebhookReplacement.id.desc())).first()
        db.session.expunge_all()
        return row


def audit_actions(app) -> list[str]:
    with app.app_context():
        return [e.action for e in db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id))
                if e.action.startswith("webhook_")]


def replace_with_events_flowing(flow: Flow, **changes) -> WebhookReplacement:
    """The whole replacement through its pages, with events raised and delivered before, during and after each step."""
    flow.tick()
    flow.tick()
    started = start(flow, **changes)
    assert started.status_code == 302, started.get_data(as_text=True)
    row = replacement_row(flow.app)
    here = f"/webhooks/replacements/{row.id}"
    assert started.headers["Location"] == here  # the portal's receiver took the new secret itself
    flow.tick()
    shown = flow.client.get(here)
    assert "Receivers must de-duplicate by event id" in text_of(shown)
    assert row.state == "deployed"
    flow.tick()
    flow.post(f"{here}/test", here)
    flow.tick(deliver=False)
    waiting = flow.client.get(here)
    assert "waiting for the replacement's answer" in text_of(waiting)
    assert page(waiting).select_one("#replacement-body")["hx-trigger"] == "every 1s"  # polled live
    flow.simulator.deliver_due()  # the test event (and the tick's event) land
    proven = flow.client.get(f"{here}/proof", headers={"HX-Request": "true"})
    assert "The replacement answered the test event with HTTP 200" in text_of(proven)
    assert not page(proven).select_one("#replacement-body").has_attr("hx-trigger")  # polling stops
    flow.tick()
    finished = flow.post(f"{here}/finish", here)
    assert finished.status_code == 302
    flow.tick()
    flow.tick()
    done = flow.client.get(here)
    assert "Done. The old endpoint was deleted" in text_of(done)
    return replacement_row(flow.app)


def test_rotating_the_secret_of_the_portals_receiver_loses_no_event_and_stores_none_twice(inbox):
    row = replace_with_events_flowing(inbox)
    assert row.state == "completed" and row.shares_receiver and row.new_url == row.old_url
    stored = inbox.stored_once()
    assert set(stored) == set(inbox.raised) and set(stored.values()) == {1}
    (receiver,) = receivers(inbox.app)  # the same address, now verifying with the new secret only
    assert receiver.webhook_id == row.new_webhook_id
    with inbox.app.app_context():
        assert inbox.app.extensions["vault"].decrypt(receiver.secret_encrypted) == \
            inbox.simulator.webhooks[row.new_webhook_id].secret
    assert row.old_webhook_id not in inbox.simulator.webhooks
    new_deliveries = inbox.simulator.deliveries_by_hook[row.new_webhook_id]
    assert new_deliveries and all(d.status == "succeeded" for d in new_deliveries)  # both secrets were accepted


def test_both_endpoints_received_the_overlaps_events_and_the_receiver_kept_each_once(inbox):
    row = replace_with_events_flowing(inbox)
    overlap = {d.event_id for d in inbox.simulator.deliveries_by_hook[row.old_webhook_id]} & \
        {d.event_id for d in inbox.simulator.deliveries_by_hook[row.new_webhook_id]}
    assert len(overlap) >= 3  # raised while both existed: delivered twice, stored once
    redelivered = {e.event_id: e.redeliveries for e in stored_events(inbox.app)}
    assert all(redelivered[event_id] == 1 for event_id in overlap if event_id in inbox.raised)


def test_moving_the_portals_receiver_to_a_new_address_loses_no_event_and_stores_none_twice(inbox):
    old_token = receivers(inbox.app)[0].token
    row = replace_with_events_flowing(inbox, new_address="y")
    assert row.state == "completed" and not row.shares_receiver and row.new_url != row.old_url
    stored = inbox.stored_once()
    assert set(stored) == set(inbox.raised) and set(stored.values()) == {1}
    (receiver,) = receivers(inbox.app)  # the old address is gone
    assert receiver.webhook_id == row.new_webhook_id and receiver.token != old_token
    assert inbox.client.post(f"/hooks/{old_token}", data=b"{}").status_code == 404


def test_each_step_is_audited(inbox):
    replace_with_events_flowing(inbox)
    actions = audit_actions(inbox.app)
    for action in ("webhook_replacement_started", "webhook_replacement_registered",
                   "webhook_replacement_secret_deployed", "webhook_replacement_test_sent",
                   "webhook_replacement_proven", "webhook_deleted", "webhook_replacement_completed"):
        assert action in actions, action
    log = text_of(inbox.client.get("/audit/"))
    assert "webhook_replacement_completed" in log or "replacement" in log.lower()


def test_the_old_endpoint_is_kept_while_sir_giving_still_retries_an_event_only_it_got(inbox):
    inbox.tick(deliver=False)  # raised before the replacement: only the old endpoint will get it
    start(inbox)
    row = replacement_row(inbox.app)
    here = f"/webhooks/replacements/{row.id}"
    # The old endpoint answered that event's first attempt with a 503: SIR Giving retries it later.
    pending = inbox.simulator.deliveries_by_hook[row.old_webhook_id][-1]
    inbox.simulator.record_attempt(pending.id, 503, "busy", "HTTP 503")
    inbox.post(f"{here}/test", here)
    inbox.simulator.deliver_due()  # the test lands; the retry is not due yet
    inbox.client.get(here)
    refused = inbox.client.get(inbox.post(f"{here}/finish", here).headers["Location"])
    assert "still retrying 1 delivery to the old endpoint" in text_of(refused)
    assert row.old_webhook_id in inbox.simulator.webhooks and replacement_row(inbox.app).state == "proven"
    inbox.simulator.advance_clock(60)  # past its first backoff (30 s)
    inbox.simulator.deliver_due()  # the retry lands at the old endpoint
    inbox.post(f"{here}/finish", here)  # "Delete the old endpoint" again
    assert replacement_row(inbox.app).state == "completed"
    stored = inbox.stored_once()
    assert set(stored) == set(inbox.raised) and set(stored.values()) == {1}


def test_dropping_an_event_type_no_other_endpoint_receives_is_refused_in_place_and_changes_nothing(inbox):
    for hook in list(inbox.simulator.webhooks.values()):  # Acme's seeded endpoints receive every type
        if hook.partner_id == inbox.partner_id and hook.id != inbox.webhook_id:
            inbox.simulator.delete_webhook(hook.partner_id, hook.environment, hook.id)
    before = set(inbox.simulator.webhooks)
    response = start(inbox, event_types=["action.failed"])
    assert response.status_code == 422
    errors = page(response).select_one("#event_types-errors").get_text()
    assert "The old endpoint receives action.completed, and no other endpoint of yours does" in errors
    assert set(inbox.simulator.webhooks) == before and replacement_row(inbox.app) is None


def test_a_bad_url_is_refused_in_place_and_changes_nothing(inbox):
    before = set(inbox.simulator.webhooks)
    response = start(inbox, use_portal_receiver="", url="ftp://example.com/hook")
    assert response.status_code == 422
    assert "Enter a full URL" in page(response).select_one("#url-errors").get_text()
    assert set(inbox.simulator.webhooks) == before and replacement_row(inbox.app) is None


def test_a_refused_registration_is_said_plainly_and_resumes(inbox):
    inbox.simulator.add_fault("POST", "/v1/partner/webhooks", status=503, count=1)
    response = start(inbox)
    row = replacement_row(inbox.app)
    shown = text_of(inbox.client.get(response.headers["Location"]))
    assert row.state == "started" and "The replacement stopped." in shown and "Traceback" not in shown
    assert "the old endpoint still receives every event" in shown
    here = f"/webhooks/replacements/{row.id}"
    inbox.post(f"{here}/resume", here)
    assert replacement_row(inbox.app).state == "deployed"
    assert "failure" in [e for e in _outcomes(inbox.app, "webhook_replacement_registered")]


def _outcomes(app, action):
    with app.app_context():
        return [e.outcome for e in db.session.scalars(db.select(AuditEntry).filter_by(action=action))]


def test_cancelling_deletes_the_replacement_and_keeps_the_old_endpoint(inbox):
    start(inbox)
    row = replacement_row(inbox.app)
    here = f"/webhooks/replacements/{row.id}"
    inbox.post(f"{here}/cancel", here)
    assert replacement_row(inbox.app).state == "cancelled"
    assert row.new_webhook_id not in inbox.simulator.webhooks and row.old_webhook_id in inbox.simulator.webhooks
    inbox.tick()
    assert set(inbox.stored_once()) == set(inbox.raised)


def test_a_second_tab_gets_the_same_replacement(inbox):
    start(inbox)
    again = inbox.client.get(f"/webhooks/{inbox.webhook_id}/replace")
    row = replacement_row(inbox.app)
    assert again.headers["Location"] == f"/webhooks/replacements/{row.id}"


def test_a_crash_mid_replacement_resumes_from_the_stored_state_in_a_new_instance(tmp_path, auth):
    state = tmp_path / "sim-state.jsonl"
    first = make_app(tmp_path, simulator_config={"STATE_PATH": str(state)})
    from tests.conftest import AuthActions

    client = first.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client, event_types=TYPES)
    simulator = first.extensions["simulator_app"].extensions["sir_simulator"]
    acme = next(p.id for p in simulator.partners.values() if p.slug == "acme-rewards")
    flow = Flow(first, client, simulator, acme, receivers(first)[0].webhook_id)
    flow.tick()
    start(flow)
    flow.tick()
    row = replacement_row(first)
    assert row.state == "deployed"
    raised = list(flow.raised)
    # The process dies here; another starts on the same database and the same SIR Giving.
    second = make_app(tmp_path, simulator_config={"STATE_PATH": str(state)})
    client = second.test_client()
    AuthActions(client).sign_in("acme")
    simulator = second.extensions["simulator_app"].extensions["sir_simulator"]
    flow = Flow(second, client, simulator, acme, row.old_webhook_id)
    flow.raised = raised
    here = f"/webhooks/replacements/{row.id}"
    assert "both receive" in text_of(client.get(here))
    flow.tick()
    flow.post(f"{here}/test", here)
    flow.tick()
    client.get(here)
    flow.post(f"{here}/finish", here)
    flow.tick()
    assert replacement_row(second).state == "completed"
    stored = flow.stored_once()
    assert set(stored) == set(flow.raised) and set(stored.values()) == {1}


def test_a_crash_just_after_sir_giving_registered_the_replacement_resumes_without_a_second_endpoint(tmp_path, monkeypatch):
    from tests.conftest import AuthActions
    from webapp.store import reveal

    state = tmp_path / "sim-state.jsonl"
    first = make_app(tmp_path, simulator_config={"STATE_PATH": str(state)})
    client = first.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client, event_types=TYPES)
    simulator = first.extensions["simulator_app"].extensions["sir_simulator"]
    acme = next(p.id for p in simulator.partners.values() if p.slug == "acme-rewards")
    flow = Flow(first, client, simulator, acme, receivers(first)[0].webhook_id)
    flow.tick()

    def die(*args, **kwargs):
        raise RuntimeError("the worker died")

    monkeypatch.setattr(reveal, "stash", die)  # after SIR Giving answered, before anything was saved
    with pytest.raises(RuntimeError):
        start(flow)
    monkeypatch.undo()
    row = replacement_row(first)
    assert row.state == "registering" and row.new_webhook_id is None
    orphan = next(h.id for h in simulator.webhooks.values() if h.url == row.old_url and h.id != row.old_webhook_id)
    flow.tick()  # the orphan receives too, signed with a secret nobody kept: the receiver refuses it, the old one delivers
    raised = list(flow.raised)

    second = make_app(tmp_path, simulator_config={"STATE_PATH": str(state)})
    simulator = second.extensions["simulator_app"].extensions["sir_simulator"]
    simulator.advance_clock(120)  # the dead worker's claim is stale now
    client = second.test_client()
    AuthActions(client).sign_in("acme")
    flow = Flow(second, client, simulator, acme, row.old_webhook_id)
    flow.raised = raised
    here = f"/webhooks/replacements/{row.id}"
    assert "being registered" in text_of(client.get(here))
    flow.post(f"{here}/resume", here)
    row = replacement_row(second)
    assert row.state == "deployed" and row.new_webhook_id != orphan
    assert orphan not in simulator.webhooks  # its secret was lost with the crash: deleted, not kept
    assert [h.id for h in simulator.webhooks.values() if h.url == row.old_url] == [row.old_webhook_id, row.new_webhook_id]
    assert "webhook_replacement_orphan_deleted" in audit_actions(second)
    flow.tick()
    flow.post(f"{here}/test", here)
    flow.tick()
    client.get(here)
    flow.post(f"{here}/finish", here)
    flow.tick()
    assert replacement_row(second).state == "completed"
    stored = flow.stored_once()
    assert set(stored) == set(flow.raised) and set(stored.values()) == {1}


SAMPLE = "https://sandbox.simulator.invalid/_sim/endpoints/"  # the simulator's sample handler (section 5's example)


@pytest.fixture
def own_endpoint(app, signed_in, simulator):
    """Acme with its own endpoint (the sample handler, which verifies with the secret of every webhook at its URL,
    as a receiver that accepts both secrets during the overlap does)."""
    from tests.webhooks.helpers import register

    assert register(signed_in, url=SAMPLE + "acme-old", event_types=list(TYPES), keep_secret="").status_code == 302
    hook = next(h for h in simulator.webhooks.values() if h.url == SAMPLE + "acme-old")
    acme = hook.partner_id
    return Flow(app, signed_in, simulator, acme, hook.id)


def landed(simulator, event_ids) -> dict[str, int]:
    """Event id → how many deliveries of it succeeded, on any endpoint."""
    counts = {event_id: 0 for event_id in event_ids}
    for delivery in simulator.deliveries.values():
        if delivery.event_id in counts and delivery.status == "succeeded":
            counts[delivery.event_id] += 1
    return counts


def test_moving_your_own_endpoint_to_a_new_url_shows_the_secret_once_and_every_event_lands(own_endpoint):
    flow = own_endpoint
    flow.tick()
    started = start(flow, url=SAMPLE + "acme-new")
    row = replacement_row(flow.app)
    here = f"/webhooks/replacements/{row.id}"
    assert row.state == "registered" and started.headers["Location"].startswith("/webhooks/secret/webhook.")
    flow.tick()
    early = flow.client.get(flow.post(f"{here}/deployed", here).headers["Location"])
    assert "Show the new signing secret first" in text_of(early) and replacement_row(flow.app).state == "registered"
    shown = flow.client.get(started.headers["Location"])
    assert page(shown).select_one("#webhook-secret").get_text() == flow.simulator.webhooks[row.new_webhook_id].secret
    assert page(shown).select_one(f"form[action='{here}']") is not None  # back to the replacement
    assert "no longer available" in text_of(flow.client.get(started.headers["Location"]))  # once
    flow.tick()
    flow.post(f"{here}/deployed", here)
    assert replacement_row(flow.app).state == "deployed"
    flow.tick()
    flow.post(f"{here}/test", here)
    flow.tick()
    flow.client.get(here)
    flow.post(f"{here}/finish", here)
    flow.tick()
    row = replacement_row(flow.app)
    assert row.state == "completed" and row.old_webhook_id not in flow.simulator.webhooks
    assert all(count >= 1 for count in landed(flow.simulator, flow.raised).values())


def test_a_test_event_the_replacement_does_not_answer_is_said_plainly_and_can_be_sent_again(own_endpoint):
    flow = own_endpoint
    start(flow, url="https://hooks.acme.example/moved")
    row = replacement_row(flow.app)
    here = f"/webhooks/replacements/{row.id}"
    flow.client.get(f"/webhooks/secret/{row.reveal_token}")
    flow.post(f"{here}/deployed", here)
    flow.post(f"{here}/test", here)
    flow.simulator.deliver_due()
    failed = flow.client.get(here)
    shown = text_of(failed)
    assert "The replacement answered" in shown and "send another test" in shown.lower()
    assert not page(failed).select_one("#replacement-body").has_attr("hx-trigger")  # nothing to wait for
    assert replacement_row(flow.app).state == "deployed" and row.old_webhook_id in flow.simulator.webhooks
    assert page(failed).select_one("#finish") is None  # no deleting before a proof


def test_a_refused_deletion_of_the_old_endpoint_is_said_plainly_and_resumes(inbox):
    start(inbox)
    row = replacement_row(inbox.app)
    here = f"/webhooks/replacements/{row.id}"
    inbox.post(f"{here}/test", here)
    inbox.simulator.deliver_due()
    inbox.client.get(here)
    inbox.simulator.add_fault("DELETE", "/v1/partner/webhooks/*", status=503, count=1)
    shown = text_of(inbox.client.get(inbox.post(f"{here}/finish", here).headers["Location"]))
    assert "The replacement stopped." in shown and "Traceback" not in shown
    assert replacement_row(inbox.app).state == "proven" and row.old_webhook_id in inbox.simulator.webhooks
    inbox.tick()
    inbox.post(f"{here}/finish", here)  # "Delete the old endpoint" again
    assert replacement_row(inbox.app).state == "completed"
    assert set(inbox.stored_once()) == set(inbox.raised)


def test_after_a_rotation_the_receiver_refuses_the_old_secret_and_takes_the_new(inbox):
    from tests.webhooks.helpers import envelope, post_event

    with inbox.app.app_context():
        old_secret = inbox.app.extensions["vault"].decrypt(receivers(inbox.app)[0].secret_encrypted)
    row = replace_with_events_flowing(inbox)
    (receiver,) = receivers(inbox.app)
    new_secret = inbox.simulator.webhooks[row.new_webhook_id].secret
    now = str(int(inbox.simulator.now()))
    refused = post_event(inbox.app.test_client(), receiver.token, old_secret, envelope("evt_after_old"), timestamp=now)
    taken = post_event(inbox.app.test_client(), receiver.token, new_secret, envelope("evt_after_new"), timestamp=now)
    assert (refused.status_code, taken.status_code) == (401, 200)


def test_neither_endpoint_of_a_replacement_in_progress_can_be_deleted_by_hand(inbox):
    start(inbox)
    row = replacement_row(inbox.app)
    for hook_id in (row.old_webhook_id, row.new_webhook_id):
        response = inbox.client.get(f"/webhooks/{hook_id}/delete")
        assert response.headers["Location"] == f"/webhooks/replacements/{row.id}"
    assert {row.old_webhook_id, row.new_webhook_id} <= set(inbox.simulator.webhooks)


def test_another_partner_cannot_see_or_step_a_replacement(inbox):
    from tests.conftest import AuthActions

    start(inbox)
    row = replacement_row(inbox.app)
    globex = inbox.app.test_client()
    AuthActions(globex).sign_in("globex")
    assert globex.get(f"/webhooks/replacements/{row.id}").status_code == 404
    from tests.conftest import csrf_token_from

    token = csrf_token_from(globex.get("/webhooks/"))
    assert globex.post(f"/webhooks/replacements/{row.id}/cancel", data={"csrf_token": token}).status_code == 404
    assert replacement_row(inbox.app).state == "deployed"
