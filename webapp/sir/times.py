"""The portal's one place for reading and writing times: SIR Giving's ISO 8601 times, the days and
moments an admin types into a filter or a form, and the wire format the portal sends back.

Flask-free, like the rest of `webapp/sir`, so the client's models and the portal's pages share it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .errors import MalformedReply

WIRE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # what SIR Giving sends and accepts: `2026-11-25T09:12:00Z`
DAY_FORMAT = "%Y-%m-%d"
_MOMENT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", DAY_FORMAT)


def parse_time(value: Any, *, lenient: bool = False) -> datetime | None:
    """An ISO 8601 time (`2026-11-25T09:12:00Z`) as an aware UTC-based datetime; None or "" stays None.

    A value that is not a time raises MalformedReply (it came from SIR Giving, and the card that reads it
    says so), or gives None when `lenient` (display code that shows "—" instead)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        if lenient:
            return None
        raise MalformedReply(f"not a time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_day(raw: str | None) -> datetime | None:
    """A day an admin typed (`2026-11-25`) as 00:00 UTC that day, or None when it is not one."""
    try:
        return datetime.strptime((raw or "").strip(), DAY_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def parse_moment(raw: str | None) -> datetime | None:
    """A UTC moment from a date (`2026-11-24`) or a datetime-local value (`2026-11-24T09:30`), or None."""
    text = (raw or "").strip().removesuffix("Z")
    for pattern in _MOMENT_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def to_wire(moment: datetime | None) -> str:
    """A time as SIR Giving reads it (UTC, whole seconds, `Z`); "" for None."""
    return moment.astimezone(timezone.utc).strftime(WIRE_FORMAT) if moment else ""


def to_local_input(moment: datetime) -> str:
    """A time as an `<input type="datetime-local">` shows it (UTC, minutes)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")
