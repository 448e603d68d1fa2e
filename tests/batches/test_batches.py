"""Reward batches from a CSV, through the portal and the embedded simulator: a bad file sends nothing and names
each bad row; the preflight holds a batch larger than the pool and says Go once a top-up is approved; a
1,000-row batch is sent exactly once although the server is killed mid-send and restarted; the result file;
failed rows sent again alone; typed confirmation in production."""

from __future__ import annotations

import csv
import io

import pytest
from requests.adapters import BaseAdapter

from tests.conftest import (AuthActions, csrf_token_from, make_app, page, partner_api_for, read_timeout, session_jwt,
                            text_of)
from webapp.sir.api import AccountApi
from webapp.sir.client import Credential

HEADER = "partner_user_id,action_type,amount,currency,idempotency_key,email,first_name,last_name,metadata"
HX = {"HX-Request": "true"}


def csv_file(*lines: str) -> bytes:
    return ("\n".join((HEADER, *lines)) + "\n").encode()


def advocacy_rows(count: int, prefix: str = "batchuser") -> bytes:
    """`count` rows without idempotency keys: the portal derives one per row."""
    return csv_file(*(f"{prefix}_{n:05d},ADVOCACY,,,,,,," for n in range(count)))


def upload(client, content: bytes, name: str = "winners.csv"):
    token = csrf_token_from(client.get("/batches/"))
    return client.post("/batches/upload", data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def batch_id_of(response) -> int:
    assert response.status_code == 302, text_of(response)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def confirm(client, batch_id: int, **fields):
    shown = client.get(f"/batches/{batch_id}")
    return client.post(f"/batches/{batch_id}/confirm", data={"csrf_token": csrf_token_from(shown), **fields})


def step_until_done(client, batch_id: int, limit: int = 50) -> str:
    token = csrf_token_from(client.get(f"/batches/{batch_id}"))
    for _ in range(limit):
        stepped = client.post(f"/batches/{batch_id}/step", headers={**HX, "X-CSRFToken": token})
        state = page(stepped).select_one("#batch-progress")["data-state"]
        if state != "sending":
            return state
    raise AssertionError("the batch did not finish")


def top_up(api, simulator, pool_id: str, amount: int) -> None:
    """Request a top-up and let SIR Giving's operator approve it (as tests/pools do)."""
    request = api.request_top_up(pool_id, amount, "Tokens for the batch of winners")
    simulator.decide_allocation_request(request.id, approve=True)


def campaign_pool(api) -> str:
    return api.active_campaign().value.pool_id


def batch_actions(simulator, partner_id: str, environment: str = "sandbox") -> list:
    """The actions SIR Giving holds that a batch made (their keys are the portal's derived `batch-…` keys)."""
    return [a for a in simulator.actions_by_env.get((partner_id, environment), [])
            if a.idempotency_key.startswith("batch-")]


def partner_id_of(client) -> str:
    with client.session_transaction() as stored:
        return stored["partner"]["id"]


def result_rows(client, batch_id: int) -> list[dict]:
    response = client.get(f"/batches/{batch_id}/result.csv")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


# -- a bad file ----------------------------------------------------------------------------------------

def test_a_file_with_bad_rows_sends_nothing_and_names_each_bad_row(signed_in, simulator):
    actions_before = len(simulator.actions)
    content = csv_file(
        "user_0001,VOLUNTEER,,,,,,,",
        ",VOLUNTEER,,,,,,,",                       # line 3: no user
        "user_0003,CHEER,,,,,,,",                  # line 4: unknown action type
        "user_0004,PURCHASE,,,,,,,",               # line 5: a purchase needs an amount
        "user_0005,VOLUNTEER,=HYPERLINK(\"x\"),USD,,,,,",  # line 6: a formula
        "user_0006,DONATION,12.5,US,,,,,",         # line 7: not a currency
        "user_0007,VOLUNTEER,,,,not-an-email,,,",  # line 8
        "user_0008,VOLUNTEER,,,,,,,[1]",           # line 9: metadata is not an object
        "user_0001,VOLUNTEER,,,,,,,",              # line 10: repeats line 2 exactly
    )
    response = upload(signed_in, content)
    assert response.status_code == 422
    problems = {int(li["data-row"]): li.get_text(" ", strip=True) for li in page(response).select(".row-problems li")}
    assert sorted(problems) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "partner_user_id is empty" in problems[3]
    assert "'CHEER' is not one of" in problems[4]
    assert "amount is required for PURCHASE" in problems[5]
    assert "like a spreadsheet formula" in problems[6]
    assert "not three letters" in problems[7]
    assert "not an email address" in problems[8]
    assert "metadata is not a JSON object" in problems[9]
    assert "repeats row 2" in problems[10]
    assert "Nothing was sent" in text_of(response)
    assert len(simulator.actions) == actions_before
    assert "No batch yet" in text_of(signed_in.get("/batches/"))


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfeu\x00s\x00e\x00r\x00", "not UTF-8 text"),
    (b"user,type\nuser_1,VOLUNTEER\n", "it has no column partner_user_id, action_type, amount, currency"),
    (HEADER.encode() + b"\n", "a header but no rows"),
])
def test_a_file_that_cannot_be_read_gets_a_clear_error_and_sends_nothing(signed_in, simulator, content, message):
    actions_before = len(simulator.actions)
    response = upload(signed_in, content)
    assert response.status_code == 422
    assert message in text_of(response)
    assert len(simulator.actions) == actions_before


def test_a_50_mb_file_is_refused_with_its_size_and_sends_nothing(signed_in, simulator):
    actions_before = len(simulator.actions)
    response = upload(signed_in, b"x" * (50 * 1024 * 1024))
    assert response.status_code == 413
    shown = page(response).select_one("#file-error").get_text()
    assert shown.startswith("The file is 50 MB; a batch file may be at most 10 MB")
    assert len(simulator.actions) == actions_before


def test_the_template_has_every_documented_column(signed_in):
    response = signed_in.get("/batches/template.csv")
    assert response.headers["Content-Disposition"].startswith("attachment")
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    documented = [code.get_text() for code in page(signed_in.get("/batches/")).select("#batch-columns td code")]
    assert header == documented == HEADER.split(",")


# -- preflight -----------------------------------------------------------------------------------------

def verdict(response) -> tuple[str, dict[str, str]]:
    result = page(response).select_one("#preflight-result")
    return result["data-verdict"], {li["data-check"]: li["data-state"] for li in result.select("li.reason")}


def test_preflight_holds_a_batch_larger_than_the_pool_and_says_go_after_a_top_up_is_approved(app, signed_in, simulator):
    api = partner_api_for(app, signed_in)
    pool_id = campaign_pool(api)
    balance = api.pool_balance(pool_id, fresh=True).value.balance
    planned = "/batches/preflight?actions=100&tokens=5000"  # ×2 for the holiday campaign: 10,000 tokens

    held = signed_in.get(planned)
    assert verdict(held)[0] == "Hold"
    pool_reason = page(held).select_one('li[data-check="pool"]')
    assert pool_reason["data-state"] == "hold"
    assert f"has {balance:,} tokens; the batch needs about 10,000" in pool_reason.get_text(" ", strip=True)
    assert pool_reason.select_one("a")["href"] == f"/token-pools/{pool_id}/top-up"

    top_up(api, simulator, pool_id, 20_000)
    go = signed_in.get(planned)
    assert verdict(go) == ("Go", {"pool": "go", "integration": "warn", "campaign": "go", "webhooks": "warn",
                                  "usage": "go"})


def test_the_overview_offers_the_preflight_in_one_click(signed_in):
    overview = page(signed_in.get("/"))
    link = overview.find("a", string="Preflight a batch")
    assert link is not None
    assert signed_in.get(link["href"]).status_code == 200


# -- sending -------------------------------------------------------------------------------------------

class Killed(BaseException):
    """The worker dies: not an error the portal could catch and answer."""


class KilledAfterBulkCalls(BaseAdapter):
    """The transport to SIR Giving, with the process dying right after SIR Giving applied the `n`-th bulk call
    and before its answer was read."""

    def __init__(self, inner, n: int):
        super().__init__()
        self.inner, self.n, self.calls = inner, n, 0

    def send(self, request, **kwargs):
        response = self.inner.send(request, **kwargs)
        if request.path_url.endswith("/actions/bulk"):
            self.calls += 1
            if self.calls == self.n:
                raise Killed()
        return response

    def close(self):
        self.inner.close()


def test_a_1000_row_batch_is_sent_exactly_once_though_the_server_is_killed_mid_send(tmp_path):
    first = make_app(tmp_path)
    client = first.test_client()
    AuthActions(client).sign_in("acme")
    simulator = first.extensions["simulator_app"].extensions["sir_simulator"]
    api = partner_api_for(first, client)
    top_up(api, simulator, campaign_pool(api), 50_000)  # 1,000 × 20 tokens × 2 (campaign) = 40,000
    partner_id = partner_id_of(client)
    assert batch_actions(simulator, partner_id) == []

    batch_id = batch_id_of(upload(client, advocacy_rows(1000)))
    assert confirm(client, batch_id).status_code == 302
    sir = first.extensions["sir_client"]
    sandbox = sir.base_urls["sandbox"]
    sir.plain.mount(sandbox, KilledAfterBulkCalls(sir.plain.get_adapter(sandbox), 4))
    with pytest.raises(Killed):
        step_until_done(client, batch_id)
    assert len(batch_actions(simulator, partner_id)) == 400  # four chunks applied; the fourth never recorded

    # A new portal on the same database (its embedded SIR Giving restored from its state file) goes on.
    second = make_app(tmp_path)
    again = second.test_client()
    AuthActions(again).sign_in("acme")
    shown = again.get(f"/batches/{batch_id}")
    assert "300 of 1,000 sent" in text_of(shown)
    assert step_until_done(again, batch_id) == "finished"

    upstream = batch_actions(second.extensions["simulator_app"].extensions["sir_simulator"], partner_id)
    assert len(upstream) == 1000
    assert len({a.idempotency_key for a in upstream}) == 1000
    rows = result_rows(again, batch_id)
    assert len(rows) == 1000
    assert {r["status"] for r in rows} == {"COMPLETED"}
    assert len({r["action_id"] for r in rows}) == 1000
    assert {a.id for a in upstream} == {r["action_id"] for r in rows}
    assert "1,000 of 1,000 sent · 1,000 completed · 0 failed · 40,000 tokens distributed" in text_of(
        again.get(f"/batches/{batch_id}"))


def test_the_result_file_gives_each_row_and_failed_rows_go_again_alone(app, signed_in, simulator):
    api = partner_api_for(app, signed_in)
    pool_id = campaign_pool(api)
    top_up(api, simulator, pool_id, 20_000)
    content = csv_file("user_0001,VOLUNTEER,,,shift-77,,,,",
                       'newcomer_1,PURCHASE,30,USD,,new@example.com,New,Comer,"{""orderId"": ""98765""}"',
                       "newcomer_2,REFERRAL,,,,,,,")
    batch_id = batch_id_of(upload(signed_in, content))
    assert confirm(signed_in, batch_id).status_code == 302
    # Before the batch goes out, the pool is drawn down to 10 tokens by another action: the rows will fail.
    left = api.pool_balance(pool_id, fresh=True).value.balance
    api.post("/v1/partner/actions/submit", {"idempotencyKey": "drain", "actionType": "PURCHASE",
                                            "amount": (left - 10) / 2, "currency": "USD",
                                            "stakeholders": [{"partnerUserId": "user_0002"}]})
    assert step_until_done(signed_in, batch_id) == "finished"
    rows = result_rows(signed_in, batch_id)
    assert [(r["row"], r["partner_user_id"], r["action_type"], r["idempotency_key"] == "shift-77", r["status"])
            for r in rows] == [("2", "user_0001", "VOLUNTEER", True, "FAILED"),
                               ("3", "newcomer_1", "PURCHASE", False, "FAILED"),
                               ("4", "newcomer_2", "REFERRAL", False, "FAILED")]
    assert all(r["action_id"] and "needs" in r["error"] for r in rows)
    assert len(page(signed_in.get(f"/batches/{batch_id}")).select(".failed-rows tbody tr")) == 3

    top_up(api, simulator, pool_id, 20_000)
    shown = signed_in.get(f"/batches/{batch_id}")
    resent = signed_in.post(f"/batches/{batch_id}/resend-failed", data={"csrf_token": csrf_token_from(shown)})
    assert resent.status_code == 302
    assert step_until_done(signed_in, batch_id) == "finished"
    rows = result_rows(signed_in, batch_id)
    assert [(r["idempotency_key"].endswith(".r1"), r["status"], r["tokens"]) for r in rows] == [
        (True, "COMPLETED", "100"), (True, "COMPLETED", "60"), (True, "COMPLETED", "200")]
    entries = text_of(signed_in.get("/audit/"))
    for action in ("batch uploaded", "batch started", "batch finished", "batch failed rows resent"):
        assert action in entries


def test_sending_to_production_needs_the_number_of_actions_typed(app, signed_in, simulator):
    jwt = session_jwt(app, signed_in)
    created = AccountApi(app.extensions["sir_client"], jwt).create_key("Portal (production)", "production", "secret")
    partner_id = partner_id_of(signed_in)
    with app.app_context():
        app.extensions["vault"].store_credential(partner_id, Credential(created["id"], created["secretKey"],
                                                                        created["hmacSecret"]),
                                                 source="created", stored_by="admin@acme.example")
    with signed_in.session_transaction() as stored:
        stored["environment"] = "production"
    batch_id = batch_id_of(upload(signed_in, advocacy_rows(3, "produser")))
    shown = signed_in.get(f"/batches/{batch_id}")
    statement = " ".join(page(shown).select_one(".confirm-statement").get_text().split())
    assert statement.startswith("Send 3 actions to production, distributing about 72 tokens")  # 3 × 20 × 1.2

    refused = confirm(signed_in, batch_id)
    assert refused.status_code == 422
    assert "Type 3 (the number of actions)" in page(refused).select_one("#confirm-error").get_text()
    refused = confirm(signed_in, batch_id, typed="yes")
    assert refused.status_code == 422
    assert batch_actions(simulator, partner_id, "production") == []

    assert confirm(signed_in, batch_id, typed="3").status_code == 302
    assert step_until_done(signed_in, batch_id) == "finished"
    assert len(batch_actions(simulator, partner_id, "production")) == 3


def stepped(client, batch_id: int):
    token = csrf_token_from(client.get(f"/batches/{batch_id}"))
    return client.post(f"/batches/{batch_id}/step", headers={**HX, "X-CSRFToken": token})


def confirmed_batch(app, client, simulator, rows: int) -> int:
    """A batch of `rows` uploaded and confirmed, its pool topped up first so the preflight says Go."""
    api = partner_api_for(app, client)
    top_up(api, simulator, campaign_pool(api), 50_000)
    batch_id = batch_id_of(upload(client, advocacy_rows(rows)))
    assert confirm(client, batch_id).status_code == 302
    return batch_id


def test_a_429_pauses_sending_for_as_long_as_sir_giving_says_then_it_goes_on(app, signed_in, simulator):
    batch_id = confirmed_batch(app, signed_in, simulator, 250)
    simulator.add_fault(method="POST", path="*/actions/bulk", status=429, count=1)
    limited = page(stepped(signed_in, batch_id)).select_one("#batch-progress")
    assert limited["data-state"] == "sending"
    assert "rate limit for this key is reached" in limited.select_one(".batch-note").get_text()
    assert limited["hx-trigger"] == "load delay:3000ms"  # Retry-After: 1 s, and never sooner than 3 s
    assert step_until_done(signed_in, batch_id) == "finished"
    assert len(batch_actions(simulator, partner_id_of(signed_in))) == 250


def test_a_chunk_whose_answer_times_out_goes_again_with_the_same_keys_and_rewards_once(app, signed_in, simulator):
    batch_id = confirmed_batch(app, signed_in, simulator, 150)
    simulator.add_fault(method="POST", path="*/actions/bulk", delay_ms=600, count=1)
    with read_timeout(app, 0.2):
        timed_out = page(stepped(signed_in, batch_id)).select_one("#batch-progress")
    assert "answer to the last chunk was lost" in timed_out.select_one(".batch-note").get_text()
    assert step_until_done(signed_in, batch_id) == "finished"
    rows = result_rows(signed_in, batch_id)
    assert {r["status"] for r in rows} == {"COMPLETED"}
    upstream = batch_actions(simulator, partner_id_of(signed_in))
    assert len(upstream) == 150 and {a.id for a in upstream} == {r["action_id"] for r in rows}


def test_ten_thousand_rows_are_checked_and_kept_in_one_upload(signed_in):
    response = upload(signed_in, advocacy_rows(10_000))
    batch_id = batch_id_of(response)
    shown = signed_in.get(f"/batches/{batch_id}")
    assert "10,000 actions" in text_of(shown)
    refused = upload(signed_in, advocacy_rows(10_001, "other"))
    assert refused.status_code == 422
    assert "more than 10,000 rows" in text_of(refused)


def test_preflight_weighs_the_pool_chosen_in_its_form(app, signed_in):
    shown = page(signed_in.get("/batches/preflight?actions=100&tokens=5000"))
    options = {o.get_text(): o["value"] for o in shown.select("#plan-pool option") if o["value"]}
    chosen = next(value for name, value in options.items() if name.startswith("Sandbox rewards"))
    again = signed_in.get(f"/batches/preflight?actions=100&tokens=5000&pool_id={chosen}")
    reason = page(again).select_one('li[data-check="pool"]')
    assert reason["data-state"] == "go"
    assert "Pool Sandbox rewards has" in reason.get_text()
    assert page(again).select_one(f'#plan-pool option[value="{chosen}"]').has_attr("selected")
