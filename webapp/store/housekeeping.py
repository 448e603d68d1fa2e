"""Deleting what the portal no longer needs: old one-time form tokens, unseen new secrets, old received events.

Each function handles at most `limit` rows and returns how many it handled, so a caller can bound one round
(start-up) or repeat until nothing is left (`flask prune`). Each commits its own work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from .db import db
from .models import FormSubmission, ReceivedEvent, RevealedSecret


def _delete_batch(model, key, *conditions, limit: int) -> int:
    chosen = select(key).where(*conditions).limit(limit).scalar_subquery()
    count = db.session.execute(delete(model).where(key.in_(chosen)).execution_options(
        synchronize_session=False)).rowcount
    db.session.commit()
    return count


def prune_form_tokens(before: datetime, limit: int) -> int:
    """Form tokens issued before `before`: their forms cannot be sent any more (the session that showed
    them has ended), and a resubmit that late has no earlier result worth showing."""
    return _delete_batch(FormSubmission, FormSubmission.token, FormSubmission.created_at < before, limit=limit)


def expire_revealed_secrets(before: datetime, limit: int) -> int:
    """Erase new secrets stashed before `before` whose once-only page was never opened (the browser went
    away between creating the key and showing it): a key's secrets must not wait in the database for ever.
    The row stays, so the page then says they are gone."""
    chosen = (select(RevealedSecret.token).where(RevealedSecret.secrets_encrypted.is_not(None),
                                                 RevealedSecret.created_at < before)
              .limit(limit).scalar_subquery())
    count = db.session.execute(update(RevealedSecret).where(RevealedSecret.token.in_(chosen))
                               .values(secrets_encrypted=None)
                               .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return count


def prune_revealed(before: datetime, limit: int) -> int:
    """Once-only pages made before `before`, shown or erased: nothing left to show, and the form that made
    them (whose resubmit would point at them) is gone too."""
    return _delete_batch(RevealedSecret, RevealedSecret.token, RevealedSecret.secrets_encrypted.is_(None),
                         RevealedSecret.created_at < before, limit=limit)


def prune_events(before: datetime, limit: int) -> int:
    """Received webhook events stored before `before` (the retention setting)."""
    return _delete_batch(ReceivedEvent, ReceivedEvent.id, ReceivedEvent.received_at < before, limit=limit)
