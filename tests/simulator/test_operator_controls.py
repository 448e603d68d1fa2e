"""Operator controls under /_sim/ (never under the SIR paths), fault injection, and the command line."""

from __future__ import annotations

import json

import pytest
from simulator.__main__ import parse_args

from tests.simulator.conftest import Partner


def test_operator_controls_live_apart_from_the_sir_paths(client):
    from simulator.api.routing import ROUTES

    assert all(r["path"].startswith("/v1/partner/") for r in ROUTES)
    state = client.get("/_sim/state").json
    emails = {p["name"]: p["adminEmails"] for p in state["partners"]}
    assert emails == {"Acme Rewards": ["admin@acme.example"], "Globex Giving": ["admin@globex.example"]}
    assert state["counts"]["actions"] > 1000 and state["faults"] == []


def test_an_event_raised_by_the_operator_is_delivered_to_the_webhooks_that_want_it(client, acme, sim_app):
    hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://ops.partner.test/x",
                                                        "eventTypes": ["campaign.completed"]}).json
    raised = client.post("/_sim/events", json={"partnerId": acme.partner_id, "type": "campaign.completed",
                                               "data": {"campaignId": "cmp_x"}})
    wanting = [h for h in acme.signed("GET", "/v1/partner/webhooks").json["data"]
               if h["receiveAllEvents"] or "campaign.completed" in h["eventTypes"]]
    assert raised.status_code == 201 and len(raised.json["deliveryIds"]) == len(wanting) == 2  # ours + the seeded catch-all
    assert client.post("/_sim/deliveries/run").json["attempted"] >= 1
    sent = [d for d in sim_app.delivered if d["url"] == hook["url"]]
    assert [json.loads(d["body"])["data"] for d in sent] == [{"campaignId": "cmp_x"}]


def test_moving_the_clock_moves_what_the_simulator_calls_now(client, acme, sim):
    before = acme.signed("GET", "/v1/partner/dashboard/summary").json["asOf"]
    timestamp = str(int(sim.now()))
    moved = client.post("/_sim/clock", json={"advanceSeconds": 2 * 86_400}).json
    assert moved["clockOffsetSeconds"] == 2 * 86_400
    stale = acme.signed("GET", "/v1/partner/users", timestamp=timestamp)  # signed before the move: now too old
    assert stale.json["code"] == "TIMESTAMP_EXPIRED"
    after = acme.signed("GET", "/v1/partner/dashboard/summary").json["asOf"]
    assert after[:10] > before[:10]
    assert client.post("/_sim/clock", json={"advanceSeconds": -2 * 86_400}).json["clockOffsetSeconds"] == 0


def test_a_partner_can_be_suspended_and_reinstated(client, acme):
    assert client.post("/_sim/partners/acme-rewards/status", json={"status": "suspended"}).json["status"] == "suspended"
    assert acme.signed("GET", "/v1/partner/users").json["code"] == "PARTNER_SUSPENDED"
    client.post("/_sim/partners/acme-rewards/status", json={"status": "active"})
    assert acme.signed("GET", "/v1/partner/users").status_code == 200
    assert client.post("/_sim/partners/initech/status", json={"status": "active"}).status_code == 404


def test_an_allocation_request_is_decided_once(client, acme):
    pending = acme.signed("GET", "/v1/partner/token-pools/requests?status=pending").json["data"][0]
    rejected = client.post(f"/_sim/token-pools/requests/{pending['id']}/reject", json={"note": "Split it up"}).json
    assert rejected["status"] == "rejected" and rejected["decisionNote"] == "Split it up"
    again = client.post(f"/_sim/token-pools/requests/{pending['id']}/approve")
    assert again.status_code == 409 and again.json["code"] == "CONFLICT"
    assert client.post("/_sim/token-pools/requests/req_nope/approve").status_code == 404


def test_reset_goes_back_to_the_seed_and_clears_faults(client, sim, acme):
    acme.signed("POST", "/v1/partner/users", {"externalUserId": "made_today"})
    client.post("/_sim/faults", json={"path": "/v1/partner/campaigns", "status": 503})
    sim.advance_clock(3600)
    assert client.post("/_sim/reset").json == {"reset": True}
    assert client.get("/_sim/faults").json["data"] == [] and sim.clock_offset == 0
    again = Partner(client, sim, "admin@acme.example")
    assert again.signed("GET", "/v1/partner/users/made_today").status_code == 404
    assert again.signed("GET", "/v1/partner/campaigns").status_code == 200


def test_a_fault_matches_its_method_and_path_and_runs_out_after_its_count(client, acme):
    added = client.post("/_sim/faults", json={"method": "post", "path": "/v1/partner/users*", "status": 502, "count": 2})
    assert added.status_code == 201 and added.json["method"] == "POST"
    assert acme.signed("GET", "/v1/partner/users").status_code == 200  # a GET is not matched
    statuses = [acme.signed("POST", "/v1/partner/users", {"externalUserId": f"f{n}"}).status_code for n in range(3)]
    assert statuses == [502, 502, 201]
    assert client.get("/_sim/faults").json["data"] == []


def test_an_injected_429_carries_retry_after_and_a_malformed_reply_is_not_json(client, acme):
    client.post("/_sim/faults", json={"path": "/v1/partner/token-pools", "status": 429, "count": 1})
    limited = acme.signed("GET", "/v1/partner/token-pools")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    client.post("/_sim/faults", json={"path": "/v1/partner/token-pools", "malformed": True, "count": 1})
    garbled = acme.signed("GET", "/v1/partner/token-pools")
    assert garbled.status_code == 200
    with pytest.raises(ValueError):
        json.loads(garbled.get_data())


def test_a_dropped_connection_sends_no_response_at_all(client, acme):
    client.post("/_sim/faults", json={"path": "/v1/partner/users", "drop": True, "count": 1})
    with pytest.raises(ConnectionAbortedError):
        acme.signed("GET", "/v1/partner/users")
    assert acme.signed("GET", "/v1/partner/users").status_code == 200


def test_the_rate_limit_is_counted_per_key(client, sim, acme, globex):
    assert client.post("/_sim/traffic", json={"rateLimit": 2}).json["rateLimit"] == 2
    assert [acme.signed("GET", "/v1/partner/users").status_code for _ in range(3)] == [200, 200, 429]
    assert globex.signed("GET", "/v1/partner/users").status_code == 200
    client.post("/_sim/traffic", json={"rateLimit": 0})
    assert acme.signed("GET", "/v1/partner/users").status_code == 200


def test_requests_answered_by_a_fault_count_as_errors_in_api_usage(client, acme):
    before = acme.signed("GET", f"/v1/partner/dashboard/api-usage?days=1&keyId={acme.key['id']}").json["totals"]
    client.post("/_sim/faults", json={"path": "/v1/partner/campaigns", "status": 500, "count": 2})
    acme.signed("GET", "/v1/partner/campaigns")
    acme.signed("GET", "/v1/partner/campaigns")
    after = acme.signed("GET", f"/v1/partner/dashboard/api-usage?days=1&keyId={acme.key['id']}").json["totals"]
    assert after["requests"] == before["requests"] + 3 and after["errors"] == before["errors"] + 2


def test_the_command_line_takes_the_documented_options():
    args = parse_args(["--host", "0.0.0.0", "--port", "4011", "--latency-ms", "100", "--jitter-ms", "20",
                       "--error-rate", "0.05", "--rate-limit", "120", "--seed", "7", "--state", "/tmp/sim.jsonl"])
    assert (args.host, args.port, args.latency_ms, args.jitter_ms, args.error_rate, args.rate_limit, args.seed,
            args.state) == ("0.0.0.0", 4011, 100, 20, 0.05, 120, 7, "/tmp/sim.jsonl")
    defaults = parse_args([])
    assert (defaults.host, defaults.port, defaults.seed, defaults.state, defaults.rate_limit) == ("127.0.0.1", 4010, 42, None, None)


@pytest.mark.parametrize("argv", [["--error-rate", "1.5"], ["--latency-ms", "-1"], ["--jitter-ms", "-5"],
                                  ["--rate-limit", "0"], ["--port", "70000"], ["--seed", "x"]])
def test_the_command_line_refuses_values_that_would_break_every_request(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        parse_args(argv)
    assert stopped.value.code == 2 and argv[0] in capsys.readouterr().err


@pytest.mark.slow
def test_the_simulator_never_imports_the_portal_and_runs_on_its_own():
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import simulator

    package = Path(simulator.__file__).parent
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "webapp" or n.startswith("webapp.") for n in names), source.name
    # In a fresh interpreter, building the app and serving a signed call loads nothing of the portal.
    code = ("import sys, simulator; app = simulator.create_app({'DELIVERY_MODE': 'manual'}); "
            "app.test_client().get('/partner-api/openapi.json'); "
            "print(sorted(m for m in sys.modules if m == 'webapp' or m.startswith('webapp.')))")
    run = subprocess.run([sys.executable, "-c", code], cwd=package.parent, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr[-500:]
