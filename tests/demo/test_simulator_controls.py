"""The simulator page (embedded default only): the admin plays SIR Giving's part, through /_sim/ calls that
really reach the in-process simulator, and the portal's own pages show the outcome."""

import pytest

from tests.conftest import AuthActions, make_app, page, post_form, text_of
from tests.keys.helpers import audit_rows


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def pending_of(simulator, partner_name: str):
    partner_id = next(p.id for p in simulator.partners.values() if p.name == partner_name)
    return [r for r in simulator.requests.values()
            if r.partner_id == partner_id and r.status == "pending" and r.environment == "sandbox"]


def test_the_page_lists_only_this_partners_pending_requests(signed_in, simulator):
    shown = page(signed_in.get("/simulator/"))
    rows = shown.select("#card-demo-requests tbody tr")
    assert {row["id"].removeprefix("pending-") for row in rows} == {r.id for r in pending_of(simulator, "Acme Rewards")}
    assert not {r.id for r in pending_of(simulator, "Globex Giving")} & {row["id"].removeprefix("pending-") for row in rows}


def test_approving_a_request_raises_the_pools_allocation_and_it_shows_as_approved(signed_in, simulator):
    chosen = pending_of(simulator, "Acme Rewards")[0]
    pool = simulator.pools[chosen.pool_id]
    allocated = pool.allocated
    response = post_form(signed_in, "/simulator/", f"#pending-{chosen.id} form", decision="approve",
                         note="Approved for the holidays")
    assert response.status_code == 302 and response.headers["Location"].endswith("/token-pools/requests?status=approved")
    assert simulator.requests[chosen.id].status == "approved"
    assert simulator.pools[chosen.pool_id].allocated == allocated + chosen.amount
    requests_page = signed_in.get(response.headers["Location"])
    row = page(requests_page).select_one(f"#request-{chosen.id}")
    assert "approved" in row.select_one(".request-status").get_text() and "Approved for the holidays" in row.get_text()
    newest = page(signed_in.get("/audit/")).select_one("#audit-entries tbody tr").select("td")
    assert newest[3].get_text(" ", strip=True) == "simulator request approved Approved for the holidays"
    assert newest[4].get_text(" ", strip=True) == f"{chosen.amount:,} tokens for {pool.name} ({chosen.id})"


def test_rejecting_a_request_changes_nothing_but_its_status(signed_in, simulator):
    chosen = pending_of(simulator, "Acme Rewards")[0]
    allocated = simulator.pools[chosen.pool_id].allocated
    post_form(signed_in, "/simulator/", f"#pending-{chosen.id} form", decision="reject")
    assert simulator.requests[chosen.id].status == "rejected"
    assert simulator.pools[chosen.pool_id].allocated == allocated
    assert f"pending-{chosen.id}" not in signed_in.get("/simulator/").get_data(as_text=True)


def test_another_partners_request_cannot_be_decided(signed_in, simulator):
    theirs = pending_of(simulator, "Globex Giving")[0]
    response = post_form(signed_in, "/simulator/", "#card-demo-requests form", request_id=theirs.id, decision="approve")
    assert response.status_code == 404
    assert simulator.requests[theirs.id].status == "pending"


def test_a_decision_that_is_neither_is_refused_in_place(signed_in, simulator):
    chosen = pending_of(simulator, "Acme Rewards")[0]
    response = post_form(signed_in, "/simulator/", f"#pending-{chosen.id} form", decision="maybe")
    assert response.status_code == 422
    errors = page(response).select_one(f"#pending-{chosen.id} .field-errors")
    assert errors is not None and "Not a valid choice" in errors.get_text()
    assert simulator.requests[chosen.id].status == "pending"


def test_moving_the_clock_moves_the_simulators_time(signed_in, simulator):
    before = simulator.now()
    response = post_form(signed_in, "/simulator/", "#card-demo-clock form", seconds="86400", everyone="y")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/simulator/"
    assert 86400 <= simulator.now() - before < 86400 + 60
    told = text_of(signed_in.get(response.headers["Location"]))
    assert "moved forward by 1 day" in told and "Your sign-in ended with the move" in told
    AuthActions(signed_in).login("acme")
    assert "24.0 hours ahead of real time" in text_of(signed_in.get("/simulator/"))


def test_the_clock_does_not_move_without_confirming_it_moves_for_every_partner(signed_in, simulator):
    AuthActions(signed_in).login("acme")  # through the form, so the portal knows of the sign-in
    before = simulator.clock_offset
    shown = page(signed_in.get("/simulator/"))
    reach = " ".join(shown.select_one("#card-demo-clock .clock-reach").get_text().split())
    assert f"every partner on this portal ({len(simulator.partners)} partners)" in reach
    assert "may end their sign-ins" in reach and "1 admin signed in during the last hour" in reach
    refused = post_form(signed_in, "/simulator/", "#card-demo-clock form", seconds="86400")
    assert refused.status_code == 422
    why = " ".join(page(refused).select_one("#card-demo-clock .field-errors").get_text().split())
    assert "The clock did not move" in why and "every partner" in why
    assert simulator.clock_offset == before
    assert "simulator clock moved" not in [r["what"] for r in audit_rows(signed_in)]


def test_a_confirmed_move_is_audited_with_who_and_its_reach_and_told_to_the_other_partners(app, signed_in, simulator):
    from tests.conftest import ACCOUNTS

    AuthActions(signed_in).login("acme")  # both through the form, so the portal knows of both sign-ins
    other = app.test_client()
    AuthActions(other).sign_in_through_the_forms("globex")  # another partner, signed in on the same portal
    before = simulator.clock_offset
    assert post_form(signed_in, "/simulator/", "#card-demo-clock form", seconds="3600", everyone="y").status_code == 302
    assert simulator.clock_offset - before == 3600
    AuthActions(signed_in).login("acme")  # the move ended the mover's sign-in too
    moved = next(r for r in audit_rows(signed_in) if r["what"] == "simulator clock moved")
    assert moved["who"] == ACCOUNTS["acme"][0] and moved["target"] == "+1 hour"
    assert f"for every partner on the simulator ({len(simulator.partners)})" in moved["detail"]
    assert "2 admins signed in during the last hour" in moved["detail"]
    AuthActions(other).login("globex")  # the move ended their sign-in too
    told = next(r for r in audit_rows(other) if r["what"] == "simulator clock moved")
    assert told["who"] == "another partner's admin" and ACCOUNTS["acme"][0] not in str(told)


def test_against_a_real_sir_giving_there_is_no_simulator_page(tmp_path):
    app = make_app(tmp_path, {"SIR_API_URL": "http://127.0.0.1:9"})
    assert "demo" not in app.blueprints
    assert app.test_client().get("/simulator/").status_code == 404


def test_after_moving_the_clock_signed_calls_and_deliveries_still_go_through(signed_in, simulator, app):
    from tests.webhooks.helpers import register_portal_receiver, stored_events

    register_portal_receiver(signed_in, event_types=("token_pool_request.approved",))
    assert post_form(signed_in, "/simulator/", "#card-demo-clock form", seconds="3600", everyone="y").status_code == 302
    AuthActions(signed_in).login("acme")
    # Inside SIR Giving's five-minute window: the portal signs with the simulator's moved time.
    assert "hours ahead of real time" in text_of(signed_in.get("/simulator/"))
    chosen = pending_of(simulator, "Acme Rewards")[0]
    post_form(signed_in, "/simulator/", f"#pending-{chosen.id} form", decision="approve")
    simulator.deliver_due()
    # The delivery is signed at the simulator's time and the receiver checks it against the same clock.
    approved = [e for e in stored_events(app) if e.event_type == "token_pool_request.approved"]
    assert len(approved) == 1 and chosen.id in approved[0].raw_body
