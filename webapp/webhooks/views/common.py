"""What several webhooks pages look up the same way."""

from __future__ import annotations

from flask import abort, g

from ...sir.models import Webhook
from ...store import receivers
from ...store.models import ReceiverEndpoint
from ...upstream import current_environment, partner_api


def webhook_or_404(webhook_id: str, found: Webhook | None | object = ...) -> Webhook:
    """The partner's endpoint, or a 404. `found`: the answer of `PartnerApi.webhook` asked already (in a
    page's round)."""
    hook = partner_api().webhook(webhook_id) if found is ... else found
    return hook or abort(404)


def kept_receivers() -> dict[str, ReceiverEndpoint]:
    """The signed-in partner's receivers in the current environment, by webhook id."""
    return receivers.of_partner(g.partner["id"], current_environment())
