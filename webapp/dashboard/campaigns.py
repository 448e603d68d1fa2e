"""The campaigns page: every campaign of the environment, and one campaign's analytics."""

from __future__ import annotations

from dataclasses import dataclass

from ..sir.api import Parsed, PartnerApi
from ..sir.models import Campaign


@dataclass(frozen=True)
class CampaignReport:
    listing: Parsed  # value: Listing[Campaign], every campaign
    chosen: Campaign | None
    analytics: Parsed | None  # value: CampaignAnalytics of the chosen campaign


def campaign_report(api: PartnerApi, campaign_id: str | None = None) -> CampaignReport | None:
    """The campaigns, with `campaign_id`'s analytics, or the active campaign's when none is asked for.
    None when `campaign_id` is not one of the partner's campaigns."""
    listing = api.campaigns()
    chosen_id = campaign_id or next((c.id for c in listing.value if c.status == "active"), None)
    if not chosen_id:
        return CampaignReport(listing, None, None)
    chosen = next((c for c in listing.value if c.id == chosen_id), None)
    if chosen is None:
        return None
    return CampaignReport(listing, chosen, api.campaign_analytics(chosen.id))
