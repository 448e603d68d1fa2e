"""For tests that call the keys workflows directly, without a request: an admin signed in with SIR Giving
(the in-process simulator), and the audit log as stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tests.conftest import ACCOUNTS, PASSWORD
from webapp.actor import Actor
from webapp.auth.sign_in import sign_in
from webapp.sir.api import AccountApi
from webapp.sir.client import SirClient
from webapp.store import audit, db, submissions
from webapp.store.vault import Vault


@dataclass
class Admin:
    actor: Actor
    account: AccountApi
    vault: Vault
    client: SirClient

    @property
    def partner_id(self) -> str:
        return self.actor.partner_id

    def key_named(self, name):
        return next(k for k in self.account.keys() if k.name == name)

    def give_the_portal_a_key(self):
        """What onboarding does: the portal creates a sandbox key of its own and keeps it in the vault."""
        from webapp.onboarding.portal_key import create_portal_key, purpose

        token = submissions.issue(self.partner_id, purpose("sandbox"))
        outcome = create_portal_key(self.actor, self.account, self.vault, token, date.today())
        assert outcome.done, outcome
        return outcome.result["keyId"]


def signed_in_admin(app, who: str = "acme") -> Admin:
    """Call inside an app context."""
    email = ACCOUNTS[who][0]
    client = app.extensions["sir_client"]
    signed = sign_in(client, email, PASSWORD)
    return Admin(Actor(email, signed.me["partner"]["id"], "sandbox"), AccountApi(client, signed.token),
                 app.extensions["vault"], client)


def audit_log(partner_id: str) -> list[tuple[str, str, str | None, str | None]]:
    """(action, outcome, target, detail) of every audit entry of the partner, oldest first."""
    entries = db.session.scalars(audit.entries_query(partner_id)).all()
    return [(e.action, e.outcome, e.target, e.detail) for e in reversed(entries)]
