"""keys/changes.py called directly: each change reaches SIR Giving and the audit log, a failure is audited
and leaves the key as it was, and the portal refuses to cut off its own key or re-time a key being rolled."""

from datetime import datetime, timezone

import pytest

from tests.keys.workflow_helpers import audit_log, signed_in_admin
from webapp.keys import changes
from webapp.sir import errors
from webapp.store import rotations


@pytest.fixture
def acme(app):
    with app.app_context():
        yield signed_in_admin(app)


def test_the_portal_refuses_to_cut_off_the_key_it_signs_with(acme):
    portal_key = acme.account.key(acme.give_the_portal_a_key())
    other = acme.key_named("Backend integration")
    for change, said in (("deactivate", "cannot be deactivated"), ("revoke", "cannot be revoked")):
        assert said in changes.refusal(acme.actor, acme.vault, portal_key, change)
        assert changes.refusal(acme.actor, acme.vault, other, change) is None
    assert "takes no expiry" in changes.refusal(acme.actor, acme.vault, portal_key, "expiry")  # it would cut it off later
    assert changes.refusal(acme.actor, acme.vault, other, "expiry") is None
    assert changes.refusal(acme.actor, acme.vault, portal_key, "no_expiry") is None  # removing one is always welcome


def test_a_key_being_rolled_keeps_the_end_its_roll_sets(acme):
    key = acme.key_named("Backend integration")
    assert changes.refusal(acme.actor, acme.vault, key, "expiry") is None
    rotations.create(partner_id=acme.partner_id, environment="sandbox", old_key_id=key.id, old_key_name=key.name,
                     key_type=key.key_type, grace="24h", was_portal_key=False, started_by=acme.actor.email)
    assert "the roll sets when it stops" in changes.refusal(acme.actor, acme.vault, key, "expiry")


def test_rename_expiry_deactivate_and_revoke_reach_sir_giving_and_the_audit_log(acme):
    key = acme.key_named("Backend integration")
    renamed = changes.rename(acme.actor, acme.account, key, "Backend v2")
    assert acme.account.key(key.id).name == renamed.name == "Backend v2"
    ends = datetime(2030, 6, 30, 23, 59, tzinfo=timezone.utc)
    assert changes.set_expiry(acme.actor, acme.account, renamed, ends).expires_at == ends
    assert acme.account.key(key.id).expires_at == ends
    assert changes.set_expiry(acme.actor, acme.account, renamed, None).expires_at is None
    assert changes.set_active(acme.actor, acme.account, renamed, False).status == "inactive"
    assert changes.set_active(acme.actor, acme.account, renamed, True).status == "active"
    assert changes.revoke(acme.actor, acme.account, renamed).status == "revoked"
    assert acme.account.key(key.id).status == "revoked"
    target = f"Backend v2 ({key.id})"
    assert [entry for entry in audit_log(acme.partner_id) if entry[2] == target] == [
        ("key_renamed", "success", target, "was “Backend integration”"),
        ("key_expiry_set", "success", target, "expires 2030-06-30"),
        ("key_expiry_set", "success", target, "never expires"),
        ("key_deactivated", "success", target, None),
        ("key_reactivated", "success", target, None),
        ("key_revoked", "success", target, None),
    ]


def test_a_failed_change_is_audited_and_leaves_the_key_as_it_was(acme, simulator):
    key = acme.key_named("Backend integration")
    simulator.add_fault(method="PATCH", path="/v1/partner/keys/*", status=503, count=1)
    with pytest.raises(errors.SirError) as failed:
        changes.set_active(acme.actor, acme.account, key, False)
    assert acme.account.key(key.id).status == "active"
    assert audit_log(acme.partner_id)[-1] == ("key_deactivated", "failure", f"{key.name} ({key.id})", failed.value.code)


def test_sir_givings_refusal_of_a_date_is_the_forms_to_show(acme):
    key = acme.key_named("Backend integration")
    before = audit_log(acme.partner_id)
    with pytest.raises(errors.ValidationFailed) as refused:  # a past date, which the form itself would refuse
        changes.set_expiry(acme.actor, acme.account, key, datetime(2020, 1, 1, tzinfo=timezone.utc))
    assert changes.refused_because(refused.value) == "SIR Giving refused it: expiresAt must be in the future"
    assert audit_log(acme.partner_id) == before  # like the form's own checks: not an audited failure
    assert acme.account.key(key.id).expires_at is None
