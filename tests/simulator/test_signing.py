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


EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@openssl
def test_an_empty_body_is_signed_with_the_hash_of_the_empty_string(client, sim, acme):
    empty = subprocess.run(["openssl", "dgst", "-sha256", "-hex"], input=b"", capture_output=True, check=True)
    assert empty.stdout.decode().split()[-1] == EMPTY_SHA256
    hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://e.partner.test/x", "receiveAllEvents": True}).json
    ts, path = str(int(sim.now())), f"/v1/partner/webhooks/{hook['id']}/test"
    signature = openssl_signature(acme.key["hmacSecret"], ts, "POST", path, b"")
    assert send(client, acme.key["secretKey"], ts, signature, "POST", path).status_code == 202
    as_if_braces = openssl_signature(acme.key["hmacSecret"], ts, "POST", path, b"{}")
    assert send(client, acme.key["secretKey"], ts, as_if_braces, "POST", path).json["code"] == "INVALID_SIGNATURE"


@openssl
def test_a_patch_with_a_query_string_and_a_body_is_signed_over_both(client, sim, acme):
    ts, path = str(int(sim.now())), "/v1/partner/users/user_0005?source=crm&dryRun=false"
    body = b'{"metadata": {"tier": "gold", "note": "caf\xc3\xa9"}}'
    signature = openssl_signature(acme.key["hmacSecret"], ts, "PATCH", path, body)
    updated = send(client, acme.key["secretKey"], ts, signature, "PATCH", path, body)
    assert updated.status_code == 200 and updated.json["metadata"]["note"] == "café"
    without_query = openssl_signature(acme.key["hmacSecret"], ts, "PATCH", "/v1/partner/users/user_0005", body)
    assert send(client, acme.key["secretKey"], ts, without_query, "PATCH", path, body).json["code"] == "INVALID_SIGNATURE"


@openssl
def test_the_query_string_is_signed_exactly_as_sent_not_decoded(client, sim, acme):
    ts, sent = str(int(sim.now())), "/v1/partner/users?search=user%5F000&limit=5"
    as_sent = openssl_signature(acme.key["hmacSecret"], ts, "GET", sent, b"")
    response = send(client, acme.key["secretKey"], ts, as_sent, "GET", sent)
    assert response.status_code == 200 and {u["externalUserId"][:8] for u in response.json["data"]} == {"user_000"}
    decoded = openssl_signature(acme.key["hmacSecret"], ts, "GET", "/v1/partner/users?search=user_000&limit=5", b"")
    assert send(client, acme.key["secretKey"], ts, decoded, "GET", sent).json["code"] == "INVALID_SIGNATURE"


@openssl
def test_the_method_is_signed_in_upper_case(client, sim, acme):
    ts = str(int(sim.now()))
    lower = openssl_signature(acme.key["hmacSecret"], ts, "get", "/v1/partner/users", b"")
    assert send(client, acme.key["secretKey"], ts, lower, "GET", "/v1/partner/users").json["code"] == "INVALID_SIGNATURE"


def test_a_signature_for_another_key_pair_is_invalid_even_with_a_valid_key(acme, globex):
    response = acme.signed("GET", "/v1/partner/users", secret=globex.key["hmacSecret"])
    assert response.status_code == 401 and response.json["code"] == "INVALID_SIGNATURE"


@pytest.mark.parametrize("timestamp", ["", "soon", "1.7e9", "-1"])
def test_a_timestamp_that_is_not_unix_seconds_now_is_timestamp_expired(acme, timestamp):
    response = acme.signed("GET", "/v1/partner/users", timestamp=timestamp or " ")
    assert response.status_code == 401 and response.json["code"] == "TIMESTAMP_EXPIRED"


def test_a_sandbox_key_sees_sandbox_data_and_a_live_key_production_data(client, sim, acme):
    from tests.simulator.conftest import Partner

    live = Partner(client, sim, "admin@acme.example", environment="production")
    assert acme.key["secretKey"].startswith("sk_test_") and live.key["secretKey"].startswith("sk_live_")
    assert acme.key["publicKey"].startswith("pk_test_") and live.key["publicKey"].startswith("pk_live_")
    for path in ("/v1/partner/actions?limit=100", "/v1/partner/transactions?limit=100", "/v1/partner/users?limit=100",
                 "/v1/partner/campaigns", "/v1/partner/token-pools", "/v1/partner/token-pools/requests"):
        assert {i["environment"] for i in acme.signed("GET", path).json["data"]} == {"sandbox"}, path
        assert {i["environment"] for i in live.signed("GET", path).json["data"]} == {"production"}, path
    assert acme.signed("GET", "/v1/partner/dashboard/summary").json["environment"] == "sandbox"
    assert live.signed("GET", "/v1/partner/dashboard/summary").json["environment"] == "production"
    assert client.get("/v1/partner/config", headers={"X-Partner-Key": live.key["publicKey"]}).json["environment"] == "production"
