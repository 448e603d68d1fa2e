"""Input helpers every section uses: the strict JSON body, field and query-argument checks, pagination."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from flask import request

from ..state import DomainError

MAX_AMOUNT = 10_000_000


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def body_json() -> dict:
    raw = request.get_data(cache=True)
    if not raw:
        raise DomainError(400, "INVALID_JSON", "The request body must be a JSON object.")
    try:
        # Strict JSON: NaN, Infinity and numbers too large for a float are refused, not smuggled into the state.
        payload = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError):
        raise DomainError(400, "INVALID_JSON", "The request body is not valid JSON.") from None
    except RecursionError:
        raise DomainError(400, "INVALID_JSON", "The request body is nested too deeply.") from None
    if not isinstance(payload, dict):
        raise DomainError(400, "INVALID_JSON", "The request body must be a JSON object.")
    return payload


def invalid(*problems: tuple[str, str]):
    raise DomainError(400, "VALIDATION_ERROR", "; ".join(f"{f}: {m}" for f, m in problems),
                      [{"field": f, "message": m} for f, m in problems])


def text_field(payload: dict, name: str, *, required: bool = True, max_length: int = 200) -> str | None:
    value = payload.get(name)
    if value is not None and not isinstance(value, str):
        invalid((name, "must be a string"))
    value = (value or "").strip()
    if not value:
        if required:
            invalid((name, "is required"))
        return None
    if len(value) > max_length:
        invalid((name, f"must be at most {max_length} characters"))
    return value


def positive_int(payload: dict, name: str, maximum: int = MAX_AMOUNT) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        invalid((name, "must be a whole number"))
    if value <= 0:
        invalid((name, "must be greater than zero"))
    if value > maximum:
        invalid((name, f"must be at most {maximum}"))
    return int(value)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        invalid((name, "must be a whole number"))
    if not low <= value <= high:
        invalid((name, f"must be between {low} and {high}"))
    return value


def time_arg(name: str) -> float | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        invalid((name, "must be an ISO 8601 time such as 2026-11-25T09:00:00Z"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def choice_arg(name: str, choices) -> str | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if raw not in choices:
        invalid((name, f"must be one of {', '.join(sorted(choices))}"))
    return raw


def paginate(items: list, to_wire, *, newest_last: bool = False) -> dict:
    """One page of `items`. With `newest_last`, `items` is in the order things happened and the page is cut
    from its end (newest first) without sorting or copying the whole list."""
    page = int_arg("page", 1, 1, 1_000_000)
    limit = int_arg("limit", 50, 1, 100)
    total = len(items)
    pages = max(1, math.ceil(total / limit))
    if newest_last:
        stop, start = total - (page - 1) * limit, max(0, total - page * limit)
        chunk = items[start:stop][::-1] if stop > 0 else []
    else:
        chunk = items[(page - 1) * limit: page * limit]
    return {"data": [to_wire(item) for item in chunk],
            "pagination": {"page": page, "limit": limit, "total": total, "totalPages": pages, "hasMore": page < pages}}
