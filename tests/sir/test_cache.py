"""The HTTP cache: per key, never shared between partners, invalidated by writes, stale only when marked."""

import pytest

from webapp.sir import errors
from webapp.sir.api import AccountApi, PartnerApi
from webapp.sir.client import Credential


def bound_api(app, email):
    client = app.extensions["sir_client"]
    token = client.login(email, "sandbox-demo")["token"]
    created = AccountApi(client, token).create_key("cache tests", "sandbox")
    calls = []
    api = PartnerApi(client, Credential(created["id"], created["secretKey"], created["hmacSecret"]), "sandbox",
                     record=calls.append)
    api.calls = calls
    return api


def test_a_second_read_within_the_ttl_is_served_from_the_cache(app, simulator):
    acme = bound_api(app, "admin@acme.example")
    first = acme.get("/v1/partner/token-pools")
    served = simulator.requests_served()
    second = acme.get("/v1/partner/token-pools")
    assert not first.from_cache and second.from_cache and second.data == first.data
    assert simulator.requests_served() == served


def test_two_partners_never_share_an_entry(app):
    acme = bound_api(app, "admin@acme.example")
    globex = bound_api(app, "admin@globex.example")
    acme_pools = acme.get("/v1/partner/token-pools")
    globex_pools = globex.get("/v1/partner/token-pools")
    assert not globex_pools.from_cache
    assert {p["id"] for p in acme_pools.data["data"]}.isdisjoint({p["id"] for p in globex_pools.data["data"]})
    assert globex.get("/v1/partner/token-pools").data == globex_pools.data


def test_a_write_invalidates_its_family_for_that_key_only(app):
    acme = bound_api(app, "admin@acme.example")
    globex = bound_api(app, "admin@globex.example")
    before = acme.get("/v1/partner/token-pools/requests")
    acme.get("/v1/partner/token-pools/requests", {"status": "pending"})
    globex.get("/v1/partner/token-pools/requests")
    pool = acme.get("/v1/partner/token-pools").data["data"][0]
    acme.post("/v1/partner/token-pools/request", {"poolId": pool["id"], "amount": 1000, "reason": "Cache test"})
    after = acme.get("/v1/partner/token-pools/requests")
    assert not after.from_cache and after.data["pagination"]["total"] == before.data["pagination"]["total"] + 1
    assert not acme.get("/v1/partner/token-pools/requests", {"status": "pending"}).from_cache
    assert globex.get("/v1/partner/token-pools/requests").from_cache


def test_after_an_error_the_last_good_answer_is_served_marked_stale(app, simulator):
    acme = bound_api(app, "admin@acme.example")
    good = acme.get("/v1/partner/dashboard/summary")
    simulator.advance_clock(0)  # keep the simulator's clock; the cache entry expires on the portal's clock
    cache = acme.client.cached.cache
    for key in list(cache.responses.keys()):
        response = cache.responses[key]
        response.expires = response.created_at
        cache.responses[key] = response
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/summary", status=503, count=2)
    stale = acme.get("/v1/partner/dashboard/summary")
    assert stale.stale and stale.from_cache and stale.data == good.data
    assert isinstance(stale.error, errors.ServerError)
    assert stale.fetched_at <= good.fetched_at or abs((stale.fetched_at - good.fetched_at).total_seconds()) < 1


def test_a_refused_key_is_not_hidden_behind_a_stale_answer(app):
    acme = bound_api(app, "admin@acme.example")
    acme.get("/v1/partner/campaigns")
    cache = acme.client.cached.cache
    for key in list(cache.responses.keys()):
        response = cache.responses[key]
        response.expires = response.created_at
        cache.responses[key] = response
    forged = PartnerApi(acme.client, Credential(None, acme.credential.secret_key, "f" * 64), "sandbox")
    with pytest.raises(errors.InvalidSignature):
        forged.get("/v1/partner/campaigns")


def test_the_cache_stores_no_key_and_no_signature(app, tmp_path):
    acme = bound_api(app, "admin@acme.example")
    acme.get("/v1/partner/token-pools")
    acme.get("/v1/partner/users", {"limit": 5})
    raw = b"".join(p.read_bytes() for p in (tmp_path / "instance").glob("http_cache.sqlite3*"))
    assert acme.credential.secret_key.encode() not in raw
    assert acme.credential.hmac_secret.encode() not in raw
    assert b"X-Signature" not in raw or b"REDACTED" in raw


def test_a_cache_hit_signs_nothing_and_a_miss_is_signed_as_before(app, simulator, monkeypatch):
    from webapp.sir import client as client_module

    signed = []
    real = client_module.signature_headers
    monkeypatch.setattr(client_module, "signature_headers", lambda *args: signed.append(args[3:5]) or real(*args))
    acme = bound_api(app, "admin@acme.example")
    first = acme.get("/v1/partner/dashboard/summary")
    assert signed == [("GET", "/v1/partner/dashboard/summary")] and not first.from_cache
    served = simulator.requests_served()
    second = acme.get("/v1/partner/dashboard/summary")
    assert second.from_cache and second.data == first.data
    assert len(signed) == 1 and simulator.requests_served() == served
    assert acme.calls[-1].from_cache and acme.calls[-1].cache_result == "hit"
    refreshed = acme.get("/v1/partner/dashboard/summary", fresh=True)  # an admin's Refresh: asked and signed
    assert not refreshed.from_cache and len(signed) == 2


class StoreReads:
    """The cache's real `get_response`, counting its reads by the thread that made them."""

    def __init__(self, cache):
        self.real, self.threads = cache.get_response, []

    def __call__(self, key, default=None):
        import threading

        self.threads.append(threading.current_thread().name)
        return self.real(key, default)


def count_store_reads(app, monkeypatch) -> StoreReads:
    cache = app.extensions["sir_client"].cached.cache
    reads = StoreReads(cache)
    monkeypatch.setattr(cache, "get_response", reads)
    return reads


def test_a_miss_never_reads_its_stored_copy_back_and_names_its_answer_by_the_time_its_hits_state(app, monkeypatch):
    acme = bound_api(app, "admin@acme.example")
    reads = count_store_reads(app, monkeypatch)
    first = acme.get("/v1/partner/dashboard/summary")
    assert not first.from_cache and len(reads.threads) == 2  # the look-up and requests-cache's own, no read-back
    second = acme.get("/v1/partner/dashboard/summary")
    assert second.from_cache and second.fetched_at == first.fetched_at


def test_a_read_that_missed_the_cache_asks_sir_giving_without_cache_directives_and_a_refresh_with_one(app):
    acme = bound_api(app, "admin@acme.example")
    sent = []
    transport = app.extensions["sir_client"].cached.get_adapter("https://sandbox.simulator.invalid")
    real_send = transport.send
    transport.send = lambda request, *args, **kwargs: sent.append(dict(request.headers)) or real_send(request, *args,
                                                                                                      **kwargs)
    try:
        acme.get("/v1/partner/dashboard/trends", {"days": 7})
        acme.get("/v1/partner/dashboard/trends", {"days": 7}, fresh=True)
    finally:
        del transport.send
    assert len(sent) == 2 and "Cache-Control" not in sent[0] and sent[1]["Cache-Control"] == "no-cache"
