"""The project's statement of the SIR Giving contract (docs/sir-contract.md) agrees with what the portal
reads and the simulator sends: a change on either side shows up here."""

import re
from pathlib import Path

from simulator.state import EVENT_TYPES as SIMULATOR_EVENT_TYPES
from webapp.sir.models import EVENT_TYPES as PORTAL_EVENT_TYPES

CONTRACT = (Path(__file__).resolve().parents[2] / "docs" / "sir-contract.md").read_text()


def documented_event_types() -> list[str]:
    section = CONTRACT.split("Event types:", 1)[1].split("; and", 1)[0]
    return re.findall(r"`([a-z_]+\.[a-z_]+)`", section)


def test_the_portal_and_the_simulator_know_every_documented_event_type():
    documented = documented_event_types()
    assert len(documented) == 14
    assert sorted(PORTAL_EVENT_TYPES) == sorted(documented)
    assert sorted(SIMULATOR_EVENT_TYPES) == sorted(documented)


def test_the_documented_signing_headers_are_the_ones_the_portal_sends():
    from webapp.sir.signing import signature_headers

    headers = signature_headers("sk_test_abc", "00" * 32, "1700000000", "GET", "/v1/partner/users?limit=1")
    assert sorted(headers) == ["X-Partner-Key", "X-Signature", "X-Timestamp"]
    for name in headers:
        assert f"`{name}`" in CONTRACT
