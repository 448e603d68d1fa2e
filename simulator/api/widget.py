"""Widget/config endpoints (publishable key): reference section 4, "Widget/config endpoints"."""

from __future__ import annotations

from ..state import DomainError
from .inputs import body_json, invalid, positive_int, text_field
from .routing import route

ORGANIZATIONS = {
    "american-red-cross": {"slug": "american-red-cross", "name": "American Red Cross", "ein": "53-0196605",
                           "category": "Disaster relief", "acceptsDonations": True},
    "feeding-america": {"slug": "feeding-america", "name": "Feeding America", "ein": "36-3673599",
                        "category": "Hunger", "acceptsDonations": True},
    "doctors-without-borders": {"slug": "doctors-without-borders", "name": "Doctors Without Borders USA",
                                "ein": "13-3433452", "category": "Health", "acceptsDonations": True},
}


@route("GET", "/config", "widget", "Partner widget configuration", tag="Widget")
def widget_config(state, key):
    partner = state.partner_of(key)
    return {"partnerId": partner.id, "partnerName": partner.name, "environment": key.environment,
            "currencies": ["USD"], "providers": ["stripe"], "minimumAmount": 100, "features": partner.features}


@route("GET", "/organizations/:slug", "widget", "Look up a nonprofit", tag="Widget")
def organization(state, key, slug):
    if slug not in ORGANIZATIONS:
        raise DomainError(404, "NOT_FOUND", f"No nonprofit with slug {slug!r}.")
    return ORGANIZATIONS[slug]


@route("POST", "/donations/create-link", "widget", "Create a donation checkout link", body={"nonprofitSlug": "string", "amount": "integer (cents)", "currency": "string", "frequency": "once|monthly", "provider": "stripe", "donorEmail": "string"}, tag="Widget")
def create_donation_link(state, key):
    payload = body_json()
    slug = text_field(payload, "nonprofitSlug")
    amount = positive_int(payload, "amount")
    problems = []
    if slug not in ORGANIZATIONS:
        problems.append(("nonprofitSlug", "is not a known nonprofit"))
    if payload.get("frequency", "once") not in ("once", "monthly"):
        problems.append(("frequency", "must be once or monthly"))
    if problems:
        invalid(*problems)
    currency = text_field(payload, "currency", required=False, max_length=3) or "USD"
    donation_id = state.create_donation(key.partner_id, key.environment, slug, amount, currency)["partnerDonationId"]
    host = "checkout.sandbox.sirgiving.org" if key.environment == "sandbox" else "checkout.sirgiving.org"
    return {"partnerDonationId": donation_id, "donationLink": f"https://{host}/d/{donation_id}"}, 201


@route("GET", "/donations/status/:donation_id", "widget", "Donation reward status", tag="Widget")
def donation_status(state, key, donation_id):
    donation = state.donations.get(donation_id)
    if donation is None or donation["partnerId"] != key.partner_id or donation["environment"] != key.environment:
        raise DomainError(404, "NOT_FOUND", "No such donation.")
    return {k: v for k, v in donation.items() if k != "partnerId"}
