"""Reading the filters of the deliveries list (and of its CSV export) from a query string.

Bad values never reach SIR Giving: each one is dropped and named in `problems`, shown above the table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..sir.models import EVENT_TYPES
from ..sir.times import parse_day, to_wire

DELIVERY_STATUSES = ("failed", "pending", "succeeded")
TEST_EVENT_TYPE = "webhook.test"
DELIVERY_EVENT_TYPES = tuple(EVENT_TYPES) + (TEST_EVENT_TYPE,)


@dataclass
class DeliveryFilter:
    status: str | None = None
    event_type: str | None = None
    date_from: datetime | None = None  # first day shown, 00:00 UTC
    date_to: datetime | None = None  # last day shown (inclusive)
    page: int = 1
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args) -> "DeliveryFilter":
        found = cls()
        status = args.get("status") or None
        if status and status not in DELIVERY_STATUSES:
            found.problems.append(f"“{status}” is not a delivery status; showing every status.")
        else:
            found.status = status
        event_type = args.get("type") or None
        if event_type and event_type not in DELIVERY_EVENT_TYPES:
            found.problems.append(f"“{event_type}” is not an event type SIR Giving sends; showing every type.")
        else:
            found.event_type = event_type
        for name, label in (("from", "From"), ("to", "To")):
            raw = args.get(name) or None
            if raw is None:
                continue
            day = parse_day(raw)
            if day is None:
                found.problems.append(f"{label}: enter a date like 2026-11-24.")
            else:
                setattr(found, "date_" + name, day)
        if found.date_from and found.date_to and found.date_to < found.date_from:
            found.problems.append("“To” is before “From”; showing from “From” on.")
            found.date_to = None
        try:
            found.page = max(1, int(args.get("page", 1)))
        except (TypeError, ValueError):
            found.page = 1
        return found

    @property
    def since(self) -> str | None:
        return to_wire(self.date_from) if self.date_from else None

    @property
    def until(self) -> str | None:
        return to_wire(self.date_to + timedelta(days=1)) if self.date_to else None

    @property
    def active(self) -> bool:
        return bool(self.status or self.event_type or self.date_from or self.date_to)

    def args(self, **override) -> dict:
        """The query arguments that reproduce this filter (for links, pagination, the poll and the CSV)."""
        values = {"status": self.status, "type": self.event_type,
                  "from": self.date_from.strftime("%Y-%m-%d") if self.date_from else None,
                  "to": self.date_to.strftime("%Y-%m-%d") if self.date_to else None}
        values |= override
        return {k: v for k, v in values.items() if v not in (None, "")}

    def describe(self) -> str:
        parts = []
        if self.status:
            parts.append(self.status)
        if self.event_type:
            parts.append(self.event_type)
        if self.date_from and self.date_to:
            parts.append(f"{self.date_from:%Y-%m-%d} to {self.date_to:%Y-%m-%d}")
        elif self.date_from:
            parts.append(f"since {self.date_from:%Y-%m-%d}")
        elif self.date_to:
            parts.append(f"up to {self.date_to:%Y-%m-%d}")
        return ", ".join(parts)

    def api_params(self) -> dict:
        return {"status": self.status, "event_type": self.event_type, "since": self.since, "until": self.until}
