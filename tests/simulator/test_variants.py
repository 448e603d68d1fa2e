"""The simulator's variants (simulator/variant.py): each changes only what the reference leaves open."""

from __future__ import annotations

import time

import pytest

import simulator
from simulator.__main__ import parse_args
from simulator.variant import Variant
from tests.conftest import make_app, release_simulator
from webapp.sir.api import AccountApi


def test_the_command_line_flags_make_the_variant():
    args = parse_args(["--lists", "bare", "--errors", "opaque", "--ignore-query", "--extra-fields",
                       "--missing-optional", "--clock-offset", "-400"])
    assert args.variant == Variant("bare", "opaque", True, True, True, -400)
    assert Variant.parse(str(args.variant)) == args.variant and str(Variant()) == "default"
    assert str(Variant.parse("clock-offset=400")) == "clock-offset=400"


def test_an_unknown_switch_is_refused_by_name():
    with pytest.raises(ValueError, match="sideways"):
        Variant.parse("lists=sideways")
    with pytest.raises(ValueError, match="clock-offset=soon"):
        Variant.parse("clock-offset=soon")


def test_a_clock_offset_runs_the_window_the_times_and_the_date_header_off_real_time():
    from email.utils import parsedate_to_datetime

    from tests.simulator.conftest import Partner

    app = simulator.create_app({"DELIVERY_MODE": "manual", "VARIANT": "clock-offset=400"})
    try:
        sim, client = app.extensions["sir_simulator"], app.test_client()
        acme = Partner(client, sim, "admin@acme.example")
        real = time.time()
        refused = acme.signed("GET", "/v1/partner/users", timestamp=str(int(real)))
        assert refused.status_code == 401 and refused.json["code"] == "TIMESTAMP_EXPIRED"
        answered = acme.signed("GET", "/v1/partner/users", timestamp=str(int(real + 400)))
        assert answered.status_code == 200
        stated = parsedate_to_datetime(answered.headers["Date"]).timestamp()
        assert 398 <= stated - real <= 402
        # A move of the clock adds to the offset; the offset itself is not a move the embedded portal follows.
        assert sim.clock_offset == 0 and 398 <= sim.now() - time.time() <= 402
    finally:
        release_simulator(app.extensions["sir_simulator"])


def test_the_default_simulator_states_real_time_in_its_date_header(client):
    from email.utils import parsedate_to_datetime

    stated = parsedate_to_datetime(client.get("/v1/partner/config").headers["Date"]).timestamp()
    assert abs(stated - time.time()) <= 2


@pytest.fixture
def keys_reply(tmp_path):
    def reply(variant: str):
        app = make_app(tmp_path / variant.replace(",", "_"), simulator_config={"VARIANT": variant})
        client = app.extensions["sir_client"]
        token = client.login("admin@acme.example", "sandbox-demo")["token"]
        return client.jwt_call("GET", "/v1/partner/keys", token, params={"limit": 1})
    return reply


def test_bare_lists_are_json_arrays_and_ignored_queries_page_nothing(keys_reply):
    assert isinstance(keys_reply("lists=bare"), list)
    assert len(keys_reply("ignore-query")["data"]) > 1  # limit=1 ignored


def test_extra_fields_reach_every_object_and_optional_ones_can_be_absent(keys_reply):
    extra = keys_reply("extra-fields")
    assert extra["simUnknownFlag"] and all(k["simUnknownFlag"] for k in extra["data"])
    bare = keys_reply("missing-optional")
    assert "pagination" not in bare and all("lastUsedAt" not in k and "keyType" not in k for k in bare["data"])


def test_a_documented_reply_carries_only_what_the_reference_documents(tmp_path):
    app = make_app(tmp_path, simulator_config={"VARIANT": "missing-optional"})
    client = app.extensions["sir_client"]
    token = client.login("admin@acme.example", "sandbox-demo")["token"]
    created = client.jwt_call("POST", "/v1/partner/keys", token,
                              json_body={"name": "x", "environment": "sandbox", "keyType": "secret"})
    assert set(created) <= {"id", "partnerId", "name", "environment", "publicKey", "secretKey", "hmacSecret"}
    assert AccountApi(client, token).create_key("y", "sandbox", "secret")["keyType"] == "secret"


def test_the_embedded_default_takes_its_variant_from_the_environment(tmp_path):
    app = make_app(tmp_path, environ={"SIMULATOR_VARIANT": "lists=bare,errors=opaque"})
    variant = app.extensions["simulator_app"].extensions["sir_variant"]
    assert variant == Variant(lists="bare", errors="opaque")
