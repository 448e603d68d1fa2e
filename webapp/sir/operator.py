"""The simulator's operator controls (`/_sim/` on the simulator's host): not SIR Giving's API.

On the embedded default nobody stands behind SIR Giving to approve a top-up, send an event or let time
pass, so the portal's demo page lets the admin play that part through these calls. A plain library, like
the rest of `webapp/sir`; errors map to the same typed errors as every other call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .client import SirClient


@dataclass(frozen=True)
class SimulatorClock:
    now: datetime
    offset_seconds: float  # how far the simulator's time is ahead of real time
    partner_ids: tuple[str, ...] = ()  # every partner on the simulator: its one clock is theirs too


class SimulatorControls:
    def __init__(self, client: SirClient, record=None):
        self.client = client
        self.record = record

    def _call(self, method: str, path: str, json_body: Any = None) -> Any:
        return self.client.jwt_call(method, "/_sim" + path, json_body=json_body, record=self.record)

    def clock(self) -> SimulatorClock:
        state = self._call("GET", "/state")
        partner_ids = tuple(p["id"] for p in state.get("partners") or () if isinstance(p, dict) and p.get("id"))
        return SimulatorClock(datetime.fromtimestamp(state["now"], timezone.utc), float(state.get("clockOffsetSeconds") or 0),
                              partner_ids)

    def decide_allocation_request(self, request_id: str, approve: bool, note: str | None = None) -> dict:
        verb = "approve" if approve else "reject"
        return self._call("POST", f"/token-pools/requests/{request_id}/{verb}", {"note": note} if note else {})

    def raise_event(self, partner_id: str, environment: str, event_type: str, data: dict | None = None) -> dict:
        return self._call("POST", "/events", {"partnerId": partner_id, "environment": environment,
                                              "type": event_type, "data": data or {}})

    def advance_clock(self, seconds: int) -> SimulatorClock:
        moved = self._call("POST", "/clock", {"advanceSeconds": seconds})
        return SimulatorClock(datetime.fromtimestamp(moved["now"], timezone.utc), float(moved.get("clockOffsetSeconds") or 0))
