"""The API usage card's figures split between the partner's integration and the portal itself.

The portal polls SIR Giving with its own key (the vault's credential for the partner and environment), so
counting every call as the partner's would show the portal's own polling as their integration's traffic.
SIR Giving's usage answer already counts per key (`byKey`), so the split costs no further call."""

from __future__ import annotations

from dataclasses import dataclass

from ..sir.api import Parsed, PartnerApi
from ..sir.models import ApiUsage, KeyUsage


@dataclass(frozen=True)
class UsageShares:
    usage: ApiUsage  # every key's calls, as SIR Giving counts them
    portal_key_id: str | None  # the key the portal signs with; None when the vault does not know its id

    @property
    def portal(self) -> KeyUsage | None:
        return self.usage.for_key(self.portal_key_id) if self.portal_key_id else None

    @property
    def portal_requests(self) -> int:
        return self.portal.requests if self.portal else 0

    @property
    def portal_errors(self) -> int:
        return self.portal.errors if self.portal else 0

    @property
    def integration_requests(self) -> int:
        return max(self.usage.total_requests - self.portal_requests, 0)

    @property
    def integration_errors(self) -> int:
        return max(self.usage.total_errors - self.portal_errors, 0)

    @property
    def by_key(self) -> list[KeyUsage]:
        """The partner's own keys first, busiest first; the portal's key last."""
        return sorted(self.usage.by_key, key=lambda k: (k.key_id == self.portal_key_id, -k.requests))


def api_usage(api: PartnerApi, days: int) -> Parsed:
    parsed = api.api_usage(days)
    return Parsed(UsageShares(parsed.value, api.credential.key_id), parsed.reply)
