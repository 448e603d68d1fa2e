"""`--state PATH`: what was created at run time survives a restart, and writing it stays cheap (a journal)."""

from __future__ import annotations

import json
import os
import stat

import pytest

import simulator
from simulator import seed as seed_module
from tests.simulator.conftest import Partner

COLLECTIONS = ("keys", "users", "pools", "requests", "actions", "transactions", "campaigns", "webhooks",
               "deliveries", "events", "donations")


def start(path):
    app = simulator.create_app({"STATE_PATH": str(path), "DELIVERY_MODE": "manual",
                                "DELIVER": lambda url, headers, body, timeout: (503, "down")})
    return app, app.extensions["sir_simulator"]


def resume(app, sim, earlier: Partner) -> Partner:
    """The same credentials, used against a restarted simulator."""
    again = Partner.__new__(Partner)
    again.client, again.sim, again.key, again.token = app.test_client(), sim, earlier.key, earlier.token
    again.partner_id = earlier.partner_id
    return again


def test_a_restart_rebuilds_the_same_state_from_the_journal(tmp_path):
    path = tmp_path / "state.jsonl"
    app, sim = start(path)
    acme = Partner(app.test_client(), sim, "admin@acme.example")
    hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://hooks.partner.test/sir", "receiveAllEvents": True}).json
    action = acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "persist_1", "actionType": "REFERRAL",
        "stakeholders": [{"partnerUserId": "user_0007"}]}).json
    seeded = acme.signed("GET", "/v1/partner/actions?status=COMPLETED&limit=1&page=3").json["data"][0]
    assert acme.signed("POST", f"/v1/partner/actions/{seeded['actionId']}/reverse",
                       {"reversalPercentage": 50, "reason": "refund"}).status_code == 200
    pool = acme.signed("GET", "/v1/partner/token-pools").json["data"][0]
    asked = acme.signed("POST", "/v1/partner/token-pools/request", {"poolId": pool["id"], "amount": 500, "reason": "more"}).json
    sim.decide_allocation_request(asked["id"], approve=True)
    sim.advance_clock(600)  # within the JWT's hour
    assert sim.deliver_due() > 0  # attempts (failing: 503) are part of the state too
    before = {name: getattr(sim, name) for name in COLLECTIONS}
    usage_before = acme.signed("GET", "/v1/partner/dashboard/api-usage?days=1").json["totals"]

    app2, sim2 = start(path)
    for name in COLLECTIONS:
        assert getattr(sim2, name) == before[name], name
    assert abs(sim2.clock_offset - 600) < 1e-6
    again = resume(app2, sim2, acme)
    # The key, its HMAC secret and the JWT issued before the restart still work.
    assert again.signed("GET", f"/v1/partner/actions/{action['actionId']}").json["status"] == "COMPLETED"
    assert again.jwt("GET", "/v1/partner/auth/me").status_code == 200
    assert again.signed("GET", "/v1/partner/webhooks").json["data"][-1]["id"] == hook["id"]
    # Usage counted before the restart is still counted (the GET above and this one come on top).
    usage_after = again.signed("GET", "/v1/partner/dashboard/api-usage?days=1").json["totals"]
    assert usage_after["requests"] == usage_before["requests"] + 3


def test_a_write_appends_one_line_and_never_rewrites_the_journal(tmp_path):
    path = tmp_path / "state.jsonl"
    app, sim = start(path)
    acme = Partner(app.test_client(), sim, "admin@acme.example")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # it holds secrets
    head = path.read_bytes()
    acme.signed("POST", "/v1/partner/users", {"externalUserId": "journal_user"})
    grown = path.read_bytes()
    assert grown.startswith(head)
    added = grown[len(head):].decode().splitlines()
    assert [json.loads(line)["op"] for line in added][-2:] == ["create_user", "_count_request"]


def test_a_torn_last_line_is_dropped_and_the_rest_is_kept(tmp_path):
    path = tmp_path / "state.jsonl"
    app, sim = start(path)
    acme = Partner(app.test_client(), sim, "admin@acme.example")
    with open(path, "a") as handle:
        handle.write('{"op": "create_user", "at": 1')  # the process died mid-write
    app2, sim2 = start(path)
    assert resume(app2, sim2, acme).signed("GET", "/v1/partner/users?limit=1").status_code == 200


def test_reset_forgets_what_was_created_at_run_time(tmp_path):
    path = tmp_path / "state.jsonl"
    app, sim = start(path)
    acme = Partner(app.test_client(), sim, "admin@acme.example")
    assert app.test_client().post("/_sim/reset").status_code == 200
    app2, sim2 = start(path)
    assert resume(app2, sim2, acme).signed("GET", "/v1/partner/users").json["code"] == "INVALID_API_KEY"


@pytest.mark.slow
def test_the_same_seed_builds_the_same_ids_and_numbers_from_scratch():
    now = 1_790_000_000.0

    def fingerprint(seed):
        seed_module._CACHE.clear()  # really build it again, not a cached copy
        state = seed_module.seeded_state(seed, now)
        return ([(a.id, a.idempotency_key, a.tokens_distributed, a.status, a.transaction_ids) for a in state["actions"].values()],
                sorted((k.id, k.public_key, k.hmac_secret) for k in state["keys"].values()),
                [(p.id, p.balance) for p in state["pools"].values()])

    first = fingerprint(7)
    assert first == fingerprint(7)
    assert first != fingerprint(8)


def test_shapes_md_documents_every_route_served():
    from pathlib import Path

    from simulator.api.routing import ROUTES

    shapes = (Path(simulator.__file__).parent / "SHAPES.md").read_text()
    missing = [f"{r['method']} {r['path']}" for r in ROUTES if f"`{r['method']} {r['path']}`" not in shapes]
    assert missing == []


def test_the_same_seed_on_the_same_day_gives_the_same_data_whatever_the_hour():
    """A demo started at 09:00 and one started at 15:00 hold the same things, with the same ids; the later one
    only has more of today's actions (and what follows from them: balances, deliveries of those actions)."""
    morning = 1_790_000_000.0 - 1_790_000_000.0 % 86_400 + 9 * 3600
    afternoon = morning + 6 * 3600
    seed_module._CACHE.clear()
    early = seed_module.seeded_state(5, morning)
    seed_module._CACHE.clear()
    late = seed_module.seeded_state(5, afternoon)
    for name in ("partners", "keys", "pools", "campaigns", "requests", "webhooks"):
        assert set(early[name]) == set(late[name]), name
    assert {k: (v.public_key, v.secret_key, v.hmac_secret) for k, v in early["keys"].items()} == \
        {k: (v.public_key, v.secret_key, v.hmac_secret) for k, v in late["keys"].items()}
    assert {k: u.id for k, u in early["users"].items()} == {k: u.id for k, u in late["users"].items()}
    before_nine = {a.id: (a.idempotency_key, a.tokens_distributed, a.status, a.transaction_ids)
                   for a in late["actions"].values() if a.created_at <= morning}
    assert before_nine == {a.id: (a.idempotency_key, a.tokens_distributed, a.status, a.transaction_ids)
                           for a in early["actions"].values()}
    assert len(late["actions"]) > len(early["actions"])  # the afternoon has more of today
    early_deliveries = {d.id for d in early["deliveries"].values() if d.created_at > afternoon - 7 * 86_400}
    assert early_deliveries <= set(late["deliveries"])
    seed_module._CACHE.clear()


def start_sealed(path, key):
    app = simulator.create_app({"STATE_PATH": str(path), "STATE_KEY": key, "DELIVERY_MODE": "manual",
                                "DELIVER": lambda url, headers, body, timeout: (503, "down")})
    return app, app.extensions["sir_simulator"]


def test_a_sealed_journal_keeps_no_secret_in_plaintext_and_still_restores_the_state(tmp_path):
    from cryptography.fernet import Fernet

    path, key = tmp_path / "state.jsonl", Fernet.generate_key().decode()
    app, sim = start_sealed(path, key)
    created = Partner(app.test_client(), sim, "admin@acme.example").jwt(
        "POST", "/v1/partner/keys", {"name": "Sealed", "environment": "sandbox", "keyType": "secret"}).json
    raw = path.read_bytes()
    for secret in (created["secretKey"], created["hmacSecret"], "PRIVATE KEY", "Sealed"):
        assert secret.encode() not in raw, secret
    lines = [json.loads(line) for line in raw.splitlines()]
    assert lines[0]["journal"] == "sir-simulator-journal" and all(set(line) <= {"journal", "version", "sealed"} for line in lines)

    app2, sim2 = start_sealed(path, key)
    assert sim2.keys[created["id"]].name == "Sealed"


def test_a_sealed_journal_without_its_key_stops_the_start_instead_of_forgetting_the_state(tmp_path):
    import pytest
    from cryptography.fernet import Fernet

    from simulator.persistence import JournalError

    path = tmp_path / "state.jsonl"
    app, sim = start_sealed(path, Fernet.generate_key().decode())
    Partner(app.test_client(), sim, "admin@acme.example").jwt(
        "POST", "/v1/partner/keys", {"name": "Kept", "environment": "sandbox", "keyType": "secret"})
    before = path.read_bytes()
    with pytest.raises(JournalError, match="is sealed"):
        start(path)
    with pytest.raises(JournalError, match="does not open with this key"):
        start_sealed(path, Fernet.generate_key().decode())
    assert path.read_bytes() == before  # nothing was rewritten or lost


def test_an_unsealed_journal_is_read_and_sealed_when_a_key_is_given(tmp_path):
    from cryptography.fernet import Fernet

    path, key = tmp_path / "state.jsonl", Fernet.generate_key().decode()
    app, sim = start(path)
    created = Partner(app.test_client(), sim, "admin@acme.example").jwt(
        "POST", "/v1/partner/keys", {"name": "Older", "environment": "sandbox", "keyType": "secret"}).json
    assert created["hmacSecret"].encode() in path.read_bytes()
    app2, sim2 = start_sealed(path, key)
    assert sim2.keys[created["id"]].name == "Older"
    assert created["hmacSecret"].encode() not in path.read_bytes()
