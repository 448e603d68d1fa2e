"""Signing vectors computed independently of the code under test, with openssl, as section 3's recipe does."""

import hashlib
import shutil
import subprocess

import pytest

from webapp.sir import signing, webhooks

SECRET = "7f3c0e5b9a2d4c6e8f1a3b5c7d9e0f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d3e"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def openssl_hmac(secret: str, payload: bytes) -> str:
    out = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", secret, "-hex"], input=payload,
                         capture_output=True, check=True).stdout.decode()
    return out.strip().split()[-1]


def openssl_sha256(data: bytes) -> str:
    out = subprocess.run(["openssl", "dgst", "-sha256", "-hex"], input=data, capture_output=True, check=True).stdout
    return out.decode().strip().split()[-1]


def test_it_signs_a_get_with_the_hash_of_the_empty_body():
    expected = openssl_hmac(SECRET, b"1764000000GET/v1/partner/users" + openssl_sha256(b"").encode())
    assert signing.sign(SECRET, "1764000000", "GET", "/v1/partner/users") == expected
    assert signing.EMPTY_BODY_HASH == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_it_signs_the_query_string_as_part_of_the_path():
    path = "/v1/partner/dashboard/trends?days=30&tz=Europe%2FParis"
    expected = openssl_hmac(SECRET, b"1764000000GET" + path.encode() + openssl_sha256(b"").encode())
    assert signing.sign(SECRET, "1764000000", "get", path) == expected
    assert signing.sign(SECRET, "1764000000", "GET", "/v1/partner/dashboard/trends?days=7") != expected


def test_it_signs_the_exact_body_bytes():
    body = '{"poolId":"pool_1","amount":5000,"reason":"Spring campaign — ünïcode"}'.encode()
    expected = openssl_hmac(SECRET, b"1764000123POST/v1/partner/token-pools/request" + openssl_sha256(body).encode())
    assert signing.sign(SECRET, "1764000123", "POST", "/v1/partner/token-pools/request", body) == expected
    reserialised = b'{"poolId": "pool_1", "amount": 5000, "reason": "Spring campaign"}'
    assert signing.sign(SECRET, "1764000123", "POST", "/v1/partner/token-pools/request", reserialised) != expected


def test_the_headers_carry_the_key_timestamp_and_signature():
    headers = signing.signature_headers("sk_test_abc", SECRET, "1764000000", "GET", "/v1/partner/users")
    assert headers == {"X-Partner-Key": "sk_test_abc", "X-Timestamp": "1764000000",
                       "X-Signature": openssl_hmac(SECRET, b"1764000000GET/v1/partner/users" + hashlib.sha256(b"").hexdigest().encode())}


def test_it_verifies_a_webhook_signed_as_section_5_says():
    body = b'{"id":"evt_1","type":"action.completed","createdAt":"2026-11-25T09:00:00Z","data":{}}'
    signature = "sha256=" + openssl_hmac("whsec_abc", b"1764000000." + body)
    assert webhooks.verify("whsec_abc", "1764000000", signature, body, now=1764000100).ok
    assert webhooks.verify("whsec_abc", "1764000000", signature, body + b" ", now=1764000100).reason == "bad_signature"
    assert webhooks.verify("whsec_other", "1764000000", signature, body, now=1764000100).reason == "bad_signature"
    assert webhooks.verify("whsec_abc", "1764000000", signature, body, now=1764000301).reason == "stale_timestamp"
    assert webhooks.verify("whsec_abc", "1764000000", signature, body, now=1763999699).reason == "stale_timestamp"
    assert webhooks.verify("whsec_abc", None, signature, body, now=1764000000).reason == "missing_headers"
