"""Section 3's signature rules, checked with vectors computed by openssl, and every auth error code."""

import json
import shutil
import subprocess

import pytest

openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def openssl_signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    body_hash = subprocess.run(["openssl", "dgst", "-sha256", "-hex"], input=body, capture_output=True,
                               check=True).stdout.decode().split()[-1]
    payload = f"{timestamp}{method}{path}{body_hash}".encode()
    return subprocess.run(["openssl", "dgst", "-sha256", "-hmac", secret, "-hex"], input=payload,
                          capture_output=True, check=True).stdout.decode().split()[-1]


def send(client, key, timestamp, signature, method, path, body=b""):
    headers = {"X-Partner-Key": key, "X-Timestamp": timestamp, "X-Signature": signature}
    if body:
        headers["Content-Type"] = "application/json"
    return client.open(path, method=method, data=body, headers=headers)


@openssl
def test_it_accepts_a_get_with_a_query_string_signed_by_openssl(client, sim, acme):
    ts, path = str(int(sim.now())), "/v1/partner/users?limit=3&search=user_00"
    response = send(client, acme.key["secretKey"], ts, openssl_signature(acme.key["hmacSecret"], ts, "GET", path, b""), "GET", path)
    assert response.status_code == 200 and len(response.json["data"]) == 3


@openssl
def test_it_accepts_a_post_body_signed_by_openssl_over_its_exact_bytes(client, sim, acme):
    pool = acme.signed("GET", "/v1/partner/token-pools").json["data"][0]
    body = json.dumps({"poolId": pool["id"], "amount": 5000, "reason": "Spring — ünïcode"}, ensure_ascii=False).encode()
    ts = str(int(sim.now()))
    signature = openssl_signature(acme.key["hmacSecret"], ts, "POST", "/v1/partner/token-pools/request", body)
    assert send(client, acme.key["secretKey"], ts, signature, "POST", "/v1/partner/token-pools/request", body).status_code == 201
    respaced = body.replace(b'", "', b'","')
    refused = send(client, acme.key["secretKey"], ts, signature, "POST", "/v1/partner/token-pools/request", respaced)
    assert refused.status_code == 401 and refused.json["code"] == "INVALID_SIGNATURE"


@openssl
def test_the_query_string_is_part_of_what_is_signed(client, sim, acme):
    ts = str(int(sim.now()))
    signature = openssl_signature(acme.key["hmacSecret"], ts, "GET", "/v1/partner/users?limit=3", b"")
    refused = send(client, acme.key["secretKey"], ts, signature, "GET", "/v1/partner/users?limit=4")
    assert refused.status_code == 401 and refused.json["code"] == "INVALID_SIGNATURE"


@pytest.mark.parametrize("offset, accepted", [(-299, True), (299, True), (-301, False), (301, False)])
def test_it_refuses_a_timestamp_outside_five_minutes(acme, sim, offset, accepted):
    response = acme.signed("GET", "/v1/partner/token-pools", timestamp=str(int(sim.now()) + offset))
    assert (response.status_code == 200) is accepted
    if not accepted:
        assert response.json == {"statusCode": 401, "code": "TIMESTAMP_EXPIRED", "message": response.json["message"]}


def test_a_missing_timestamp_is_timestamp_expired(client, acme):
    response = client.get("/v1/partner/token-pools", headers={"X-Partner-Key": acme.key["secretKey"], "X-Signature": "x"})
    assert response.json["code"] == "TIMESTAMP_EXPIRED"


@pytest.mark.parametrize("key", ["", "not-a-key", "sk_test_" + "0" * 48, "Bearer sk_test_abc"])
def test_missing_malformed_or_unknown_keys_are_invalid_api_key(acme, key):
    response = acme.signed("GET", "/v1/partner/token-pools", key=key)
    assert response.status_code == 401 and response.json["code"] == "INVALID_API_KEY"


def test_inactive_expired_and_revoked_keys_are_invalid_api_key(acme, sim):
    key_id = acme.key["id"]
    assert acme.jwt("PATCH", f"/v1/partner/keys/{key_id}", {"isActive": False}).status_code == 200
    assert acme.signed("GET", "/v1/partner/token-pools").json["code"] == "INVALID_API_KEY"
    acme.jwt("PATCH", f"/v1/partner/keys/{key_id}", {"isActive": True})
    assert acme.signed("GET", "/v1/partner/token-pools").status_code == 200
    acme.jwt("PATCH", f"/v1/partner/keys/{key_id}", {"expiresAt": "2099-01-01T00:00:00Z"})
    sim.advance_clock(80 * 365 * 86400)
    assert acme.signed("GET", "/v1/partner/token-pools").json["code"] == "INVALID_API_KEY"
    sim.advance_clock(-80 * 365 * 86400)
    assert acme.jwt("DELETE", f"/v1/partner/keys/{key_id}").json["status"] == "revoked"
    assert acme.signed("GET", "/v1/partner/token-pools").json["code"] == "INVALID_API_KEY"


def test_a_wrong_hmac_secret_is_invalid_signature(acme):
    response = acme.signed("GET", "/v1/partner/token-pools", secret="f" * 64)
    assert response.status_code == 401 and response.json["code"] == "INVALID_SIGNATURE"


def test_suspended_and_inactive_partners_are_refused(acme, sim):
    sim.set_partner_status(acme.partner_id, "suspended")
    assert acme.signed("GET", "/v1/partner/users").json["code"] == "PARTNER_SUSPENDED"
    sim.set_partner_status(acme.partner_id, "pending")
    response = acme.signed("GET", "/v1/partner/users")
    assert response.status_code == 403 and response.json["code"] == "PARTNER_NOT_ACTIVE"


def test_a_publishable_key_is_refused_on_secret_key_endpoints(acme):
    response = acme.signed("POST", "/v1/partner/users", {"externalUserId": "x1"}, key=acme.key["publicKey"])
    assert response.status_code == 403 and response.json["code"] == "SECRET_KEY_REQUIRED"
    assert acme.signed("GET", "/v1/partner/users", key=acme.key["publicKey"]).status_code == 200


def test_no_sandbox_pool_and_no_active_pool(acme, sim, client):
    from tests.simulator.conftest import Partner

    for pool in sim.pools_for(acme.partner_id, "sandbox"):
        pool.is_active = False
    action = {"idempotencyKey": "np-1", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "user_0001"}]}
    refused = acme.signed("POST", "/v1/partner/actions/submit", action)
    assert refused.status_code == 422 and refused.json["code"] == "NO_SANDBOX_POOL"
    live = Partner(client, sim, "admin@acme.example", environment="production")
    for pool in sim.pools_for(acme.partner_id, "production"):
        pool.is_active = False
    refused = live.signed("POST", "/v1/partner/actions/submit", action)
    assert refused.json["code"] == "NO_ACTIVE_POOL" and refused.json["message"] == "No active token pool found"


def test_jwt_errors(client, acme, sim):
    assert client.get("/v1/partner/auth/me").json["code"] == "UNAUTHORIZED"
    header, payload, signature = acme.token.split(".")
    tampered = client.get("/v1/partner/auth/me", headers={"Authorization": f"Bearer {header}.{payload}x.{signature}"})
    assert tampered.status_code == 401
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    stranger = jwt.encode({"alg": "RS256"}, {"sub": "acc", "exp": int(sim.now()) + 60}, RSAKey.generate_key(2048))
    assert client.get("/v1/partner/auth/me", headers={"Authorization": f"Bearer {stranger}"}).status_code == 401
    sim.advance_clock(3601)
    expired = acme.jwt("GET", "/v1/partner/auth/me")
    assert expired.status_code == 401 and "expired" in expired.json["message"]


def test_a_wrong_password_and_an_unknown_email_get_the_same_401(client):
    wrong = client.post("/v1/partner/auth/login", json={"email": "admin@acme.example", "password": "x"})
    unknown = client.post("/v1/partner/auth/login", json={"email": "nobody@acme.example", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401 and wrong.json == unknown.json


def test_the_jwt_is_rs256_with_exp_sub_partner_and_email(client, acme):
    import base64

    header, payload, _ = acme.token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    assert decode(header)["alg"] == "RS256"
    claims = decode(payload)
    assert {"exp", "sub", "partnerId", "email"} <= set(claims) and claims["email"] == "admin@acme.example"
    me = acme.jwt("GET", "/v1/partner/auth/me").json
    assert me["user"]["email"] == "admin@acme.example" and me["publishableKey"].startswith("pk_test_")
