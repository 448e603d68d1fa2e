"""The SIR client against the simulator over the real transport adapter: host choice, retries, errors."""

import pytest

from tests.conftest import read_timeout
from webapp.sir import errors
from webapp.sir.api import AccountApi, PartnerApi
from webapp.sir.client import Credential


@pytest.fixture
def acme(app):
    """A fresh sandbox secret key of Acme's, created with Acme's JWT, and a client bound to it."""
    client = app.extensions["sir_client"]
    token = client.login("admin@acme.example", "sandbox-demo")["token"]
    created = AccountApi(client, token).create_key("client tests", "sandbox")
    calls = []
    api = PartnerApi(client, Credential(created["id"], created["secretKey"], created["hmacSecret"]), "sandbox",
                     record=calls.append)
    api.calls = calls
    return api


def test_a_signed_get_is_verified_by_the_simulator(acme):
    reply = acme.get("/v1/partner/users", {"limit": 2, "page": 1})
    assert reply.status == 200 and len(reply.data["data"]) == 2


def test_a_key_for_the_other_environment_is_refused_before_anything_is_sent(app, acme, simulator):
    served_before = simulator.requests_served()
    with pytest.raises(errors.EnvironmentMismatch):
        PartnerApi(acme.client, acme.credential, "production").get("/v1/partner/users")
    assert simulator.requests_served() == served_before


def test_a_wrong_hmac_secret_maps_to_invalid_signature(acme):
    forged = PartnerApi(acme.client, Credential(None, acme.credential.secret_key, "0" * 64), "sandbox")
    with pytest.raises(errors.InvalidSignature) as caught:
        forged.get("/v1/partner/token-pools")
    assert caught.value.next_step and "HMAC" in caught.value.message


def test_an_unknown_key_maps_to_invalid_api_key(acme):
    unknown = PartnerApi(acme.client, Credential(None, "sk_test_" + "0" * 32, "0" * 64), "sandbox")
    with pytest.raises(errors.InvalidApiKey):
        unknown.get("/v1/partner/token-pools")


def test_a_machine_clock_years_off_is_corrected_from_sir_givings_date_after_one_refusal(app, acme):
    acme.client.clock = lambda: 1_000_000_000
    assert acme.get("/v1/partner/token-pools").status == 200
    assert [c.status for c in acme.calls] == [401, 200]


def test_a_get_is_retried_once_after_a_dropped_connection(acme, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/campaigns", drop=True, count=1)
    reply = acme.get("/v1/partner/campaigns")
    assert reply.status == 200
    assert [c.status for c in acme.calls] == [None, 200]


def test_a_write_is_never_retried(acme, simulator):
    pools = acme.get("/v1/partner/token-pools").data["data"]
    simulator.add_fault(method="POST", path="/v1/partner/token-pools/request", drop=True, count=1)
    with pytest.raises(errors.Unreachable):
        acme.post("/v1/partner/token-pools/request", {"poolId": pools[0]["id"], "amount": 100, "reason": "test"})
    assert len([c for c in acme.calls if c.method == "POST"]) == 1


def test_a_429_is_retried_once_honouring_retry_after(acme, simulator):
    slept = []
    acme.client.sleep = slept.append
    simulator.add_fault(method="GET", path="/v1/partner/transactions", status=429, count=1)
    reply = acme.get("/v1/partner/transactions")
    assert reply.status == 200 and len(slept) == 1 and 0 <= slept[0] <= 2


def test_a_slow_answer_becomes_a_timeout(app, acme, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/summary", delay_ms=2000, count=1)
    with read_timeout(app, 0.3), pytest.raises(errors.UpstreamTimeout) as caught:
        acme.get("/v1/partner/dashboard/summary")
    assert "did not answer in time" in caught.value.message


def test_a_reply_that_is_not_json_is_malformed(acme, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/campaigns/active", malformed=True, count=2)
    with pytest.raises(errors.MalformedReply):
        acme.get("/v1/partner/campaigns/active")


def test_a_500_maps_to_a_server_error_with_a_next_step(acme, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/trends", status=500, count=2)
    with pytest.raises(errors.ServerError) as caught:
        acme.get("/v1/partner/dashboard/trends", {"days": 7})
    assert caught.value.next_step


def test_a_wrong_password_is_invalid_credentials(app):
    with pytest.raises(errors.InvalidCredentials):
        app.extensions["sir_client"].login("admin@acme.example", "nope")


def test_a_tampered_jwt_is_unauthorized(app):
    client = app.extensions["sir_client"]
    token = client.login("admin@acme.example", "sandbox-demo")["token"]
    header, payload, signature = token.split(".")
    with pytest.raises(errors.Unauthorized):
        client.me(f"{header}.{payload}.{signature[::-1]}")


def test_a_proxy_from_the_environment_carries_the_calls_unless_no_proxy_names_the_host(app, monkeypatch):
    from webapp.sir.client import SirClient
    from webapp.sir.transport import WSGITransport

    class Recording(WSGITransport):
        """The simulator in process, noting the proxies each request was sent with."""

        def send(self, request, **kwargs):
            proxies_seen.append(dict(kwargs.get("proxies") or {}))
            return super().send(request, **kwargs)

    sandbox = "https://sandbox.simulator.invalid"
    for no_proxy, expected in (("", {"https": "http://proxy.internal:3128"}), ("sandbox.simulator.invalid", {})):
        proxies_seen = []
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
        monkeypatch.setenv("NO_PROXY", no_proxy)
        client = SirClient(sandbox_url=sandbox, production_url=sandbox,
                           transport=Recording(app.extensions["simulator_app"]))
        token = client.login("admin@acme.example", "sandbox-demo")["token"]
        created = AccountApi(client, token).create_key("proxy test", "sandbox")
        api = PartnerApi(client, Credential(created["id"], created["secretKey"], created["hmacSecret"]), "sandbox")
        api.get("/v1/partner/token-pools")
        monkeypatch.setenv("HTTPS_PROXY", "http://changed.internal:3128")  # read once per host: not seen again
        api.get("/v1/partner/users")
        assert proxies_seen[-2:] == [expected, expected]


def test_a_round_of_calls_at_once_keeps_its_connections_for_the_next_round():
    """Against an upstream that keeps connections open (as SIR Giving does, over TLS), a page's round of 13 calls
    at once opens its connections once; the next round reuses every one of them."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from webapp.sir.client import SirClient

    connections, everyone_in = [], threading.Barrier(13)

    class KeepAlive(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            connections.append(self.client_address)

        def log_message(self, *args):
            pass

        def do_GET(self):
            time.sleep(0.2)  # every call of the round in flight at once
            body = b'{"data": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    client = SirClient(sandbox_url=base, production_url=base)
    api = PartnerApi(client, Credential(None, "sk_test_" + "a" * 24, "b" * 64), "sandbox")

    def call(n):
        everyone_in.wait(timeout=10)  # all 13 in flight together, as an overview's round is
        return api.get(f"/v1/partner/users?n={n}").status

    try:
        with ThreadPoolExecutor(13) as pool:
            assert list(pool.map(call, range(13))) == [200] * 13
            opened = len(connections)
            assert list(pool.map(call, range(13))) == [200] * 13
    finally:
        server.shutdown()
    assert opened == 13 and len(connections) == 13  # requests' default pool (10 a host) opened 3 more
