"""Registering and deleting an endpoint, called directly: a double submit registers once and stashes the
secret once; a refusal keeps nothing; deleting removes the portal's receiver with the endpoint."""

from __future__ import annotations

import pytest

from tests.webhooks.acting import acting_as, audited
from webapp.sir import errors
from webapp.store import db, receivers, reveal, submissions
from webapp.store.models import RevealedSecret
from webapp.webhooks.registration import (PURPOSE, NewEndpoint, delete_endpoint, delivers_to_portal,
                                          register_endpoint)

PORTAL = "https://portal.acme.example"


def address_of(token: str) -> str:
    return f"{PORTAL}/hooks/{token}"


@pytest.fixture
def acme(app):
    with app.app_context():
        actor, api = acting_as(app)
        yield actor, api, app.extensions["vault"]


def hooks_at(simulator, url):
    return [h for h in simulator.webhooks.values() if h.url == url]


def stashed_for(webhook_id):
    return db.session.scalars(db.select(RevealedSecret).filter_by(key_id=webhook_id)).all()


def test_a_double_submit_registers_once_and_stashes_the_secret_once(app, simulator, acme):
    actor, api, vault = acme
    form = submissions.issue(actor.partner_id, PURPOSE)
    wanted = NewEndpoint("https://hooks.acme.example/once", "CRM", ["action.failed"], all_events=False)
    first = register_endpoint(actor, api, vault, form, wanted, address_of)
    again = register_endpoint(actor, api, vault, form, wanted, address_of)
    assert first.state == "done" and again.state == "already" and again.result == first.result
    (hook,) = hooks_at(simulator, "https://hooks.acme.example/once")
    assert hook.event_types == ["action.failed"] and hook.description == "CRM"
    (stash,) = stashed_for(hook.id)
    assert stash.token == first.result["reveal"] and hook.secret not in stash.secrets_encrypted
    _, shown = reveal.take(vault, first.result["reveal"], actor.partner_id, "webhook")
    assert shown == {"url": hook.url, "secret": hook.secret}
    assert reveal.take(vault, first.result["reveal"], actor.partner_id, "webhook")[1] is None  # shown once
    assert receivers.for_webhook(actor.partner_id, hook.id) is None  # not asked to keep it
    (entry,) = audited(app, actor, "webhook_registered")
    assert entry.outcome == "success" and entry.target == f"{hook.url} ({hook.id})"
    assert hook.secret not in (entry.target + (entry.detail or ""))


def test_the_portal_receiver_keeps_the_secret_encrypted_at_its_own_address(app, simulator, acme):
    actor, api, vault = acme
    outcome = register_endpoint(actor, api, vault, submissions.issue(actor.partner_id, PURPOSE),
                                NewEndpoint(None, None, [], all_events=True), address_of)
    assert outcome.done
    hook = next(h for h in simulator.webhooks.values() if h.url.startswith(f"{PORTAL}/hooks/"))
    receiver = receivers.for_webhook(actor.partner_id, hook.id)
    assert hook.receive_all_events and hook.url == address_of(receiver.token) == receiver.url
    assert vault.decrypt(receiver.secret_encrypted) == hook.secret and hook.secret not in receiver.secret_encrypted
    assert delivers_to_portal(receiver) and receivers.at_address(receiver.token).id == receiver.id
    assert audited(app, actor, "webhook_registered")[-1].detail == "delivered to the portal's receiver"


def test_a_kept_secret_alone_is_not_the_portal_receiver(app, simulator, acme):
    actor, api, vault = acme
    wanted = NewEndpoint("https://hooks.acme.example/kept", None, ["action.failed"], False, keep_secret=True)
    register_endpoint(actor, api, vault, submissions.issue(actor.partner_id, PURPOSE), wanted, address_of)
    (hook,) = hooks_at(simulator, "https://hooks.acme.example/kept")
    receiver = receivers.for_webhook(actor.partner_id, hook.id)
    assert vault.decrypt(receiver.secret_encrypted) == hook.secret and not delivers_to_portal(receiver)


def test_a_refused_registration_keeps_nothing_and_the_same_form_works_again(app, simulator, acme):
    actor, api, vault = acme
    form = submissions.issue(actor.partner_id, PURPOSE)
    wanted = NewEndpoint("https://hooks.acme.example/later", None, ["action.failed"], False, keep_secret=True)
    before = len(simulator.webhooks)
    simulator.add_fault("POST", "/v1/partner/webhooks", status=503, count=1)
    refused = register_endpoint(actor, api, vault, form, wanted, address_of)
    assert refused.state == "failed" and isinstance(refused.error, errors.ServerError)
    assert len(simulator.webhooks) == before and receivers.of_partner(actor.partner_id, "sandbox") == {}
    assert db.session.scalars(db.select(RevealedSecret)).all() == []
    assert audited(app, actor, "webhook_registered")[-1].outcome == "failure"
    assert register_endpoint(actor, api, vault, form, wanted, address_of).done
    assert len(hooks_at(simulator, "https://hooks.acme.example/later")) == 1


def test_an_unknown_form_token_registers_nothing(app, simulator, acme):
    actor, api, vault = acme
    before = len(simulator.webhooks)
    outcome = register_endpoint(actor, api, vault, "not-a-token", NewEndpoint(None, None, [], True), address_of)
    assert outcome.state == "expired" and len(simulator.webhooks) == before


def test_deleting_removes_the_endpoint_and_the_portal_receiver(app, simulator, acme):
    actor, api, vault = acme
    register_endpoint(actor, api, vault, submissions.issue(actor.partner_id, PURPOSE),
                      NewEndpoint(None, None, [], True), address_of)
    hook = next(h for h in api.webhooks().value if h.url.startswith(PORTAL))
    token = receivers.for_webhook(actor.partner_id, hook.id).token
    delete_endpoint(actor, api, hook)
    assert hook.id not in simulator.webhooks
    assert receivers.for_webhook(actor.partner_id, hook.id) is None and receivers.at_address(token) is None
    assert audited(app, actor, "webhook_deleted")[-1].target == f"{hook.url} ({hook.id})"
    delete_endpoint(actor, api, hook)  # gone already (another tab): what the admin asked for, no error


def test_a_refused_delete_keeps_the_receiver_and_says_why(app, simulator, acme):
    actor, api, vault = acme
    register_endpoint(actor, api, vault, submissions.issue(actor.partner_id, PURPOSE),
                      NewEndpoint(None, None, [], True), address_of)
    hook = next(h for h in api.webhooks().value if h.url.startswith(PORTAL))
    simulator.add_fault("DELETE", f"/v1/partner/webhooks/{hook.id}", status=503, count=1)
    with pytest.raises(errors.ServerError):
        delete_endpoint(actor, api, hook)
    assert hook.id in simulator.webhooks and receivers.for_webhook(actor.partner_id, hook.id) is not None
    assert audited(app, actor, "webhook_deleted")[-1].outcome == "failure"
