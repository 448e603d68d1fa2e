"""`SirClient.invalidate`: the one way to make cached answers stale, for one key and the families named, as
a write does and as the portal's receiver does when SIR Giving reports a change."""

from webapp.sir.api import AccountApi, PartnerApi
from webapp.sir.client import Credential, SirClient


def bound_api(app, email):
    client = app.extensions["sir_client"]
    token = client.login(email, "sandbox-demo")["token"]
    created = AccountApi(client, token).create_key("invalidate tests", "sandbox")
    return PartnerApi(client, Credential(created["id"], created["secretKey"], created["hmacSecret"]), "sandbox")


def test_invalidate_misses_every_cached_answer_of_the_family_for_that_key_only(app, simulator):
    acme, globex = bound_api(app, "admin@acme.example"), bound_api(app, "admin@globex.example")
    for api in (acme, globex):
        api.get("/v1/partner/token-pools")
        api.get("/v1/partner/token-pools/requests", {"status": "pending"})
        api.get("/v1/partner/campaigns")
    assert acme.get("/v1/partner/token-pools").from_cache
    served = simulator.requests_served()
    acme.client.invalidate(acme.credential, "token-pools")
    assert simulator.requests_served() == served  # invalidating sends nothing
    assert not acme.get("/v1/partner/token-pools").from_cache
    assert not acme.get("/v1/partner/token-pools/requests", {"status": "pending"}).from_cache  # any query string
    assert acme.get("/v1/partner/campaigns").from_cache  # another family stays cached
    assert globex.get("/v1/partner/token-pools").from_cache  # another key stays cached


def test_invalidate_takes_the_secret_key_and_several_families(app):
    acme = bound_api(app, "admin@acme.example")
    acme.get("/v1/partner/token-pools")
    acme.get("/v1/partner/campaigns")
    acme.client.invalidate(acme.credential.secret_key, "token-pools", "campaigns")
    assert not acme.get("/v1/partner/token-pools").from_cache and not acme.get("/v1/partner/campaigns").from_cache


def test_without_a_cache_there_is_nothing_to_invalidate():
    client = SirClient(sandbox_url="http://sir.invalid", production_url="http://sir.invalid")
    client.invalidate(Credential(None, "sk_test_x", "h" * 64), "dashboard")  # no error, nothing to do
