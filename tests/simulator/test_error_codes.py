"""Every error code the simulator documents, each produced by a real request, each a JSON body whose
`statusCode` is the HTTP status; and JWT sign-in refusing every token it did not issue unchanged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
import simulator
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.simulator.conftest import Partner

SHAPES = Path(simulator.__file__).parent / "SHAPES.md"
ACTION = {"idempotencyKey": "codes-1", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "user_0001"}]}


def invalid_api_key(acme, client, sim):
    return acme.signed("GET", "/v1/partner/users", key="sk_test_" + "0" * 48)


def timestamp_expired(acme, client, sim):
    return acme.signed("GET", "/v1/partner/users", timestamp=str(int(sim.now()) - 301))


def invalid_signature(acme, client, sim):
    return acme.signed("GET", "/v1/partner/users", secret="0" * 64)


def partner_not_active(acme, client, sim):
    client.post("/_sim/partners/acme-rewards/status", json={"status": "pending"})
    return acme.signed("GET", "/v1/partner/users")


def partner_suspended(acme, client, sim):
    client.post("/_sim/partners/acme-rewards/status", json={"status": "suspended"})
    return acme.signed("GET", "/v1/partner/users")


def secret_key_required(acme, client, sim):
    return acme.signed("POST", "/v1/partner/actions/submit", ACTION, key=acme.key["publicKey"])


def unauthorized(acme, client, sim):
    return client.get("/v1/partner/auth/me")


def invalid_credentials(acme, client, sim):
    return client.post("/v1/partner/auth/login", json={"email": "admin@acme.example", "password": "wrong"})


def validation_error(acme, client, sim):
    return acme.signed("POST", "/v1/partner/actions/submit", {**ACTION, "amount": 0})


def invalid_json(acme, client, sim):
    return acme.signed("POST", "/v1/partner/actions/submit", raw=b'{"idempotencyKey": ')


def not_found(acme, client, sim):
    return acme.signed("GET", "/v1/partner/actions/act_0000000000000000")


def method_not_allowed(acme, client, sim):
    return client.put("/v1/partner/actions/submit")


def conflict(acme, client, sim):
    acme.signed("POST", "/v1/partner/users", {"externalUserId": "twice"})
    return acme.signed("POST", "/v1/partner/users", {"externalUserId": "twice"})


def deprecated(acme, client, sim):
    return acme.signed("GET", "/v1/partner/actions/bulk/job_1")


def payload_too_large(acme, client, sim):
    return acme.signed("POST", "/v1/partner/actions/submit", raw=b" " * (1024 * 1024 + 1))


def no_sandbox_pool(acme, client, sim):
    for pool in sim.pools_for(acme.partner_id, "sandbox"):
        pool.is_active = False
    return acme.signed("POST", "/v1/partner/actions/submit", ACTION)


def no_active_pool(acme, client, sim):
    live = Partner(client, sim, "admin@acme.example", environment="production")
    for pool in sim.pools_for(acme.partner_id, "production"):
        pool.is_active = False
    return live.signed("POST", "/v1/partner/actions/submit", ACTION)


def rate_limited(acme, client, sim):
    client.post("/_sim/traffic", json={"rateLimit": 2})
    for _ in range(2):
        acme.signed("GET", "/v1/partner/users")
    return acme.signed("GET", "/v1/partner/users")


def internal_error(acme, client, sim):
    client.post("/_sim/traffic", json={"errorRate": 1})
    return acme.signed("GET", "/v1/partner/users")


SCENARIOS = {
    "INVALID_API_KEY": (401, invalid_api_key), "TIMESTAMP_EXPIRED": (401, timestamp_expired),
    "INVALID_SIGNATURE": (401, invalid_signature), "PARTNER_NOT_ACTIVE": (403, partner_not_active),
    "PARTNER_SUSPENDED": (403, partner_suspended), "SECRET_KEY_REQUIRED": (403, secret_key_required),
    "UNAUTHORIZED": (401, unauthorized), "INVALID_CREDENTIALS": (401, invalid_credentials),
    "VALIDATION_ERROR": (400, validation_error), "INVALID_JSON": (400, invalid_json), "NOT_FOUND": (404, not_found),
    "METHOD_NOT_ALLOWED": (405, method_not_allowed), "CONFLICT": (409, conflict), "DEPRECATED": (410, deprecated),
    "PAYLOAD_TOO_LARGE": (413, payload_too_large), "NO_SANDBOX_POOL": (422, no_sandbox_pool),
    "NO_ACTIVE_POOL": (422, no_active_pool), "RATE_LIMITED": (429, rate_limited), "INTERNAL_ERROR": (500, internal_error),
}


def test_every_code_shapes_md_documents_is_exercised_here():
    preamble = SHAPES.read_text().split("## Operator controls")[0]
    documented = set(re.findall(r"`([A-Z][A-Z_]{4,})`", preamble.split("**Errors**")[1].split("- **Auth order**")[0]))
    assert documented == set(SCENARIOS)


@pytest.mark.parametrize("code", SCENARIOS)
def test_each_error_code_comes_from_a_real_request_as_documented_json(acme, client, sim, code):
    status, scenario = SCENARIOS[code]
    response = scenario(acme, client, sim)
    assert response.status_code == status
    assert response.json["code"] == code and response.json["statusCode"] == status and response.json["message"]
    if code == "RATE_LIMITED":
        assert int(response.headers["Retry-After"]) >= 1
    if code == "NO_ACTIVE_POOL":
        assert response.json["message"] == "No active token pool found"


# -- JWT ---------------------------------------------------------------------------------------------

def claims_of(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def me(client, token: str):
    return client.get("/v1/partner/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_the_token_is_really_rs256_signed_by_the_simulator(acme, sim):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    header, payload, signature = acme.token.split(".")
    public = serialization.load_pem_private_key(sim.jwt_private_pem.encode(), None).public_key()
    public.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), f"{header}.{payload}".encode(),
                  padding.PKCS1v15(), hashes.SHA256())  # raises if it is not RS256 over header.payload
    claims = claims_of(acme.token)
    assert claims["sub"] and claims["partnerId"] == acme.partner_id and claims["email"] == "admin@acme.example"
    assert claims["exp"] > sim.now()


def test_a_token_with_its_claims_changed_is_refused(client, acme, globex):
    header, _, signature = acme.token.split(".")
    claims = {**claims_of(acme.token), "partnerId": globex.partner_id}
    assert me(client, f"{header}.{b64(claims)}.{signature}").status_code == 401
    longer = {**claims_of(acme.token), "exp": claims["exp"] + 86_400}
    assert me(client, f"{header}.{b64(longer)}.{signature}").status_code == 401


def test_a_token_with_the_right_claims_signed_by_another_key_is_refused(client, acme):
    forged = jwt.encode({"alg": "RS256", "typ": "JWT"}, claims_of(acme.token), RSAKey.generate_key(2048))
    response = me(client, forged)
    assert response.status_code == 401 and response.json["code"] == "UNAUTHORIZED"


def test_an_unsigned_token_and_one_hmac_signed_with_the_public_key_are_refused(client, acme, sim):
    from cryptography.hazmat.primitives import serialization

    claims = claims_of(acme.token)
    assert me(client, f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.").status_code == 401
    public_pem = serialization.load_pem_private_key(sim.jwt_private_pem.encode(), None).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert me(client, confused).status_code == 401


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic YWRtaW46c2FuZGJveA==", "Bearer not.a.jwt", "Bearer a.b"])
def test_a_missing_or_malformed_bearer_token_is_401(client, header):
    response = client.get("/v1/partner/keys", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and response.json["code"] == "UNAUTHORIZED"


def test_a_token_expires_with_the_simulators_clock(acme, sim):
    assert acme.jwt("GET", "/v1/partner/keys").status_code == 200
    sim.advance_clock(claims_of(acme.token)["exp"] - sim.now() + 1)
    response = acme.jwt("GET", "/v1/partner/keys")
    assert response.status_code == 401 and response.json["code"] == "UNAUTHORIZED"


def test_a_publishable_only_key_is_refused_with_403_on_every_secret_key_endpoint(acme):
    from simulator.api.routing import ROUTES

    widget = acme.jwt("POST", "/v1/partner/keys", {"name": "Widget", "environment": "sandbox", "keyType": "publishable"}).json
    assert widget["secretKey"] is None and widget["hmacSecret"] is None
    for route in (r for r in ROUTES if r["auth"] == "hmac-secret"):
        path = re.sub(r":\w+", "x", route["path"])
        response = acme.signed(route["method"], path, {}, key=widget["publicKey"], secret="not-its-secret")
        assert response.status_code == 403 and response.json["code"] == "SECRET_KEY_REQUIRED", route["path"]
