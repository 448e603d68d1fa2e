"""Partner hints (models.PartnerHint): read and kept, and never a reason for a page to fail."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from .db import db
from .models import PartnerHint

log = logging.getLogger(__name__)


def read(partner_id: str, environment: str, name: str) -> str | None:
    """The hint, or None (none kept yet, or the database could not be read: the page then asks in two rounds)."""
    try:
        hint = db.session.get(PartnerHint, (partner_id, environment, name))
    except SQLAlchemyError:
        db.session.rollback()
        return None
    return hint.value if hint is not None else None


def keep(partner_id: str, environment: str, name: str, value: str) -> None:
    """Keep the hint (a newer value replaces the older; two workers keeping one at once both succeed)."""
    try:
        hint = db.session.get(PartnerHint, (partner_id, environment, name))
        if hint is None:
            db.session.add(PartnerHint(partner_id=partner_id, environment=environment, name=name, value=value))
        elif hint.value != value:
            hint.value = value
        db.session.commit()
    except SQLAlchemyError as exc:  # a lost hint costs the next first view one more call, nothing else
        db.session.rollback()
        log.warning("could not keep the %s hint for %s: %s", name, partner_id, type(exc).__name__)
