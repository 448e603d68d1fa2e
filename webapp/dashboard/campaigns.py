"""The campaigns page: every campaign of the environment, and one campaign's analytics."""

from __future__ import annotations

from dataclasses import dataclass

from ..parallel import POOL
from ..sir.api import Parsed, PartnerApi
from ..sir.models import Campaign


@dataclass(frozen=True)
class CampaignReport:
    listing: Parsed  # value: Listing[Campaign], every campaign
    chosen: Campaign | None
    analytics: Parsed | None  # value: CampaignAnalytics of the chosen campaign


def campaign_report(api: PartnerApi, campaign_id: str | None = None, active_hint: str | None = None) -> CampaignReport | None:
    """The campaigns, with `campaign_id`'s analytics, or the active campaign's when none is asked for.
    None when `campaign_id` is not one of the partner's campaigns.

    The analytics are asked alongside the list (one round) for `campaign_id`, or for `active_hint` (the
    active campaign's id seen last time); a hint that is no longer the active campaign costs one more call."""
    guess = campaign_id or active_hint
    analytics_call = POOL.submit(api.campaign_analytics, guess) if guess else None
    listing = api.campaigns()
    chosen_id = campaign_id or next((c.id for c in listing.value if c.status == "active"), None)
    if not chosen_id:
        return CampaignReport(listing, None, None)
    chosen = next((c for c in listing.value if c.id == chosen_id), None)
    if chosen is None:
        return None
    # The call asked ahead is the one needed (its failure is the page's to say, as it was), or a new one.
    right = analytics_call is not None and guess == chosen.id
    return CampaignReport(listing, chosen, analytics_call.result() if right else api.campaign_analytics(chosen.id))
