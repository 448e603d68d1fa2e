"""keys/issuing.py called directly: a key is made once per form, its secrets are kept encrypted and shown
once, and "use this key for the portal" moves the portal's credential to it, audited."""

import pytest

from tests.keys.workflow_helpers import audit_log, signed_in_admin
from webapp.keys.issuing import PURPOSE, issue_key
from webapp.sir import errors
from webapp.sir.api import PartnerApi
from webapp.sir.client import Credential
from webapp.store import db, reveal, submissions
from webapp.store.models import RevealedSecret


@pytest.fixture
def acme(app):
    with app.app_context():
        yield signed_in_admin(app)


def issue(admin, token=None, name="Checkout backend", key_type="secret", for_portal=False):
    token = token or submissions.issue(admin.partner_id, PURPOSE)
    return issue_key(admin.actor, admin.account, admin.vault, token, name=name, environment="sandbox",
                     key_type=key_type, for_portal=for_portal)


def test_a_double_submit_creates_one_key(acme):
    token = submissions.issue(acme.partner_id, PURPOSE)
    first = issue(acme, token, name="Only once")
    second = issue(acme, token, name="Only once")
    assert first.state == "done" and second.state == "already"
    assert second.result == first.result  # the resend is shown the first one's secrets page
    assert [k.name for k in acme.account.keys()].count("Only once") == 1
    assert [a for a, _, target, _ in audit_log(acme.partner_id) if target and "Only once" in target] == ["key_created"]


def test_the_secrets_are_kept_encrypted_and_shown_once(acme):
    outcome = issue(acme)
    page = outcome.result["reveal"]
    key = acme.key_named("Checkout backend")
    assert db.session.get(RevealedSecret, page).key_id == key.id
    assert reveal.take(acme.vault, page, "another_partner", "key") == (None, None)

    _, shown = reveal.take(acme.vault, page, acme.partner_id, "key")
    assert shown["id"] == key.id and shown["publicKey"] == key.public_key and shown["keyType"] == "secret"
    assert shown["secretKey"].startswith("sk_test_") and len(shown["hmacSecret"]) == 64
    assert shown["secretKey"] not in (db.session.get(RevealedSecret, page).secrets_encrypted or "")
    PartnerApi(acme.client, Credential(key.id, shown["secretKey"], shown["hmacSecret"]), "sandbox").check_credential()

    row, again = reveal.take(acme.vault, page, acme.partner_id, "key")
    assert again is None and row.shown_at is not None and row.secrets_encrypted is None


def test_use_for_the_portal_switches_the_vault_and_audits_it(acme):
    acme.give_the_portal_a_key()
    outcome = issue(acme, name="New portal key", for_portal=True)
    new_key = acme.key_named("New portal key")
    _, shown = reveal.take(acme.vault, outcome.result["reveal"], acme.partner_id, "key")
    credential = acme.vault.credential_for(acme.partner_id, "sandbox")
    assert credential == Credential(new_key.id, shown["secretKey"], shown["hmacSecret"])
    PartnerApi(acme.client, credential, "sandbox").check_credential()  # SIR Giving accepts what the portal signs with
    assert acme.vault.record_for(acme.partner_id, "sandbox").source == "created"
    trail = audit_log(acme.partner_id)
    assert trail[-2:] == [("key_created", "success", f"New portal key ({new_key.id})", None),
                          ("portal_credential_switched", "success", f"New portal key ({new_key.id})",
                           "the new key became the portal's own credential")]


def test_a_publishable_key_never_becomes_the_portals_credential(acme):
    portal_key = acme.give_the_portal_a_key()
    issue(acme, name="Widget only", key_type="publishable", for_portal=True)
    assert acme.vault.credential_for(acme.partner_id, "sandbox").key_id == portal_key
    assert "portal_credential_switched" not in [a for a, *_ in audit_log(acme.partner_id)]


def test_a_failure_is_audited_and_the_same_form_can_be_sent_again(acme, simulator):
    token = submissions.issue(acme.partner_id, PURPOSE)
    simulator.add_fault(method="POST", path="/v1/partner/keys", status=503, count=1)
    failed = issue(acme, token, name="Retry me")
    assert failed.state == "failed" and isinstance(failed.error, errors.SirError)
    assert "Retry me" not in [k.name for k in acme.account.keys()]
    assert audit_log(acme.partner_id)[-1] == ("key_created", "failure", "Retry me", failed.error.code)
    again = issue(acme, token, name="Retry me")
    assert again.done and [k.name for k in acme.account.keys()].count("Retry me") == 1


def test_a_form_that_is_not_this_partners_or_was_never_issued_makes_nothing(app, acme):
    with app.app_context():
        globex = signed_in_admin(app, "globex")
    theirs = submissions.issue(globex.partner_id, PURPOSE)
    before = len(acme.account.keys())
    assert issue(acme, theirs).state == "expired"
    assert issue(acme, "not-a-token").state == "expired"
    assert len(acme.account.keys()) == before


def left_running(app, token, stale: bool = True) -> None:
    """The claim a portal killed mid-call leaves behind: "running", never finished nor released."""
    from datetime import datetime, timedelta, timezone

    from webapp.once import CALLS_PER_ACTION
    from webapp.store.models import FormSubmission

    timeout = CALLS_PER_ACTION * sum(app.extensions["sir_client"].timeout)
    row = db.session.get(FormSubmission, token)
    row.state = "running"
    row.updated_at = datetime.now(timezone.utc) - timedelta(seconds=timeout + 1 if stale else timeout - 5)
    db.session.commit()


def test_a_create_left_running_by_a_killed_portal_is_made_again_after_the_timeout(app, acme):
    token = submissions.issue(acme.partner_id, PURPOSE)
    left_running(app, token)
    outcome = issue(acme, token, name="Never answered")
    assert outcome.state == "done"
    [key] = [k for k in acme.account.keys() if k.name == "Never answered"]
    _, shown = reveal.take(acme.vault, outcome.result["reveal"], acme.partner_id, "key")
    assert shown["id"] == key.id and key.status == "active"


def test_a_key_the_killed_portal_made_is_revoked_and_replaced_since_its_secrets_were_lost(app, acme):
    token = submissions.issue(acme.partner_id, PURPOSE)
    orphan = acme.account.create_key("Lost in transit", "sandbox", "secret")  # the killed portal's call arrived
    left_running(app, token)
    outcome = issue(acme, token, name="Lost in transit")
    assert outcome.state == "done"
    keys = {k.id: k for k in acme.account.keys() if k.name == "Lost in transit"}
    assert keys[orphan["id"]].status == "revoked"
    _, shown = reveal.take(acme.vault, outcome.result["reveal"], acme.partner_id, "key")
    assert shown["id"] != orphan["id"] and keys[shown["id"]].status == "active"
    assert ("key_orphan_revoked", "success", f"Lost in transit ({orphan['id']})",
            "its secrets were lost with an unanswered call") in audit_log(acme.partner_id)


def test_a_create_still_within_the_timeout_is_left_to_the_request_that_holds_it(app, acme):
    token = submissions.issue(acme.partner_id, PURPOSE)
    left_running(app, token, stale=False)
    assert issue(acme, token, name="Still running").state == "already"
    assert [k for k in acme.account.keys() if k.name == "Still running"] == []
