"""A delivery's page, the search by event id and a recovery's report against each simulator variant: found,
readable, and honest about what SIR Giving does not report (with `missing-optional` there is no attempt
history, so the page says it shows only what is known)."""

from __future__ import annotations

from tests.conftest import page, text_of
from tests.variants.test_journey import ok, sim_of


def test_the_newest_delivery_has_its_page_and_is_found_by_its_event_id(app, variant, variant_client):
    sim = sim_of(app)
    hook = next(h for h in sim.webhooks.values() if "legacy.acme.example" in h.url)
    newest = max((d for d in sim.deliveries.values() if d.webhook_id == hook.id), key=lambda d: d.created_at)
    listed = ok(variant_client.get(f"/webhooks/{hook.id}"), "deliveries")
    link = page(listed).select_one(f"#delivery-{newest.id} a")["href"]
    detail = ok(variant_client.get(link), "delivery")
    assert detail.status_code == 200 and newest.event_id in text_of(detail)
    rows = page(detail).select("table.attempts-table tbody tr")
    if variant == "missing-optional":  # no history, no attempt count, no response: said, not invented
        assert "does not report" in text_of(detail) and len(rows) <= 1
    else:
        assert len(rows) == len(newest.history) == newest.attempts
    found = ok(variant_client.get(f"/webhooks/search?event={newest.event_id}"), "search")
    links = [a["href"] for a in page(found).select("table.search-table a")]
    assert link in links
