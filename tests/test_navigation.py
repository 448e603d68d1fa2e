"""The main navigation names every area, Campaigns and Events included, and marks the one the page belongs to."""

from __future__ import annotations

import pytest

from tests.conftest import page


def navigation(response) -> tuple[list[str], list[str]]:
    nav = page(response).select_one("nav.mainnav")
    return ([a.get_text(strip=True) for a in nav.select("a")],
            [a.get_text(strip=True) for a in nav.select("a[aria-current=page]")])


def test_campaigns_and_events_are_in_the_navigation(signed_in):
    entries, _ = navigation(signed_in.get("/"))
    # "Go live" too: the portal holds no production key of Acme's yet, so Acme has not gone live (tests/golive).
    assert entries == ["Overview", "Campaigns", "API keys", "Token pools", "Webhooks", "Events", "Batches",
                       "Alerts", "Audit log", "Go live"]


@pytest.mark.parametrize("path, current", [
    ("/", "Overview"), ("/campaigns", "Campaigns"), ("/keys/", "API keys"), ("/token-pools/", "Token pools"),
    ("/webhooks/", "Webhooks"), ("/webhooks/debugger", "Webhooks"), ("/webhooks/events", "Events"),
    ("/batches/", "Batches"), ("/batches/preflight", "Batches"), ("/alerts/", "Alerts"), ("/audit/", "Audit log")])
def test_the_page_s_own_entry_and_only_it_is_marked_current(signed_in, path, current):
    response = signed_in.get(path)
    assert response.status_code == 200
    assert navigation(response)[1] == [current]
