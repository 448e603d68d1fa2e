"""Look-ups scoped to one partner: a row is found only through the partner it belongs to."""

from __future__ import annotations

from sqlalchemy import select

from .db import db


def one_for_partner(model, partner_id: str, **filters):
    """The row of `model` with `filters` that belongs to `partner_id`, or None (also for another partner's)."""
    return db.session.scalar(select(model).filter_by(partner_id=partner_id, **filters))
