"""Fixtures for the simulator's own tests: its Flask app in process, and clients written from the reference
alone (section 3 for signing, section 5 for webhooks), not from the simulator's code."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

import simulator
from tests.conftest import release_simulator


def sign(hmac_secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    payload = f"{timestamp}{method}{path}{hashlib.sha256(body).hexdigest()}"
    return hmac.new(hmac_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class Partner:
    """One partner's view of the API: a JWT for key management, a secret key pair for signed calls."""

    def __init__(self, client, sim, email: str, environment: str = "sandbox"):
        self.client, self.sim = client, sim
        login = client.post("/v1/partner/auth/login", json={"email": email, "password": "sandbox-demo"})
        assert login.status_code == 200, login.json
        self.token = login.json["token"]
        self.partner_id = login.json["user"]["partnerId"]
        created = self.jwt("POST", "/v1/partner/keys", {"name": "tests", "environment": environment, "keyType": "secret"})
        assert created.status_code == 201, created.json
        self.key = created.json

    def jwt(self, method, path, body=None):
        return self.client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {self.token}"})

    def signed(self, method, path, body=None, *, key=None, secret=None, timestamp=None, raw: bytes | None = None):
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        timestamp = timestamp or str(int(self.sim.now()))
        key = self.key["secretKey"] if key is None else key
        headers = {"X-Partner-Key": key, "X-Timestamp": timestamp,
                   "X-Signature": sign(secret or self.key["hmacSecret"], timestamp, method, path, data)}
        if data:
            headers["Content-Type"] = "application/json"
        return self.client.open(path, method=method, data=data, headers=headers)


@pytest.fixture
def sim_app():
    delivered = []

    def deliver(url, headers, body, timeout):
        delivered.append({"url": url, "headers": headers, "body": body})
        return (200, "ok") if "fail" not in url else (500, "nope")

    app = simulator.create_app({"DELIVERY_MODE": "manual", "DELIVER": deliver})
    app.delivered = delivered
    yield app
    release_simulator(app.extensions["sir_simulator"])


@pytest.fixture
def sim(sim_app):
    return sim_app.extensions["sir_simulator"]


@pytest.fixture
def client(sim_app):
    return sim_app.test_client()


@pytest.fixture
def acme(client, sim):
    return Partner(client, sim, "admin@acme.example")


@pytest.fixture
def globex(client, sim):
    return Partner(client, sim, "admin@globex.example")
