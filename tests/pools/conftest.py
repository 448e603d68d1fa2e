"""For the tests that call the pools' workflows directly: a partner's admin and a signed client, no test client."""

import pytest

from tests.conftest import ACCOUNTS, PASSWORD
from webapp.actor import Actor
from webapp.sir.api import AccountApi, PartnerApi
from webapp.sir.client import Credential


@pytest.fixture
def acme(app):
    """Acme's admin, and a PartnerApi signed with a sandbox key made for the test (inside an app context,
    for the database)."""
    client = app.extensions["sir_client"]
    email = ACCOUNTS["acme"][0]
    login = client.login(email, PASSWORD)
    jwt = login.get("token") or login.get("accessToken")
    partner_id = client.me(jwt)["partner"]["id"]
    created = AccountApi(client, jwt).create_key("workflow tests", "sandbox", "secret")
    credential = Credential(created["id"], created["secretKey"], created["hmacSecret"])
    with app.app_context():
        yield Actor(email, partner_id, "sandbox"), PartnerApi(client, credential, "sandbox")
