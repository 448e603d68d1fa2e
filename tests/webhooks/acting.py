"""For the tests that call the webhooks workflows directly (no test client): an admin of Acme as an `Actor`,
and a signed client with a key of Acme's own, both on the embedded simulator."""

from __future__ import annotations

from tests.conftest import ACCOUNTS, PASSWORD
from webapp.actor import Actor
from webapp.sir.api import AccountApi, PartnerApi
from webapp.sir.client import Credential


def acting_as(app, who: str = "acme", environment: str = "sandbox") -> tuple[Actor, PartnerApi]:
    client = app.extensions["sir_client"]
    email = ACCOUNTS[who][0]
    login = client.login(email, PASSWORD)
    created = AccountApi(client, login["token"]).create_key("workflow tests", environment)
    credential = Credential(created["id"], created["secretKey"], created["hmacSecret"])
    return Actor(email, login["partner"]["id"], environment, "127.0.0.1"), PartnerApi(client, credential, environment)


def audited(app, actor: Actor, action: str) -> list:
    """The audit entries of `action` for the actor's partner, oldest first."""
    from webapp.store import audit, db

    return list(reversed(db.session.scalars(audit.entries_query(actor.partner_id, action=action)).all()))
