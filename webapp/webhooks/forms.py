from urllib.parse import urlsplit

from ..csrf import PortalForm
from wtforms import BooleanField, HiddenField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..sir.models import EVENT_TYPES

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class RegisterWebhookForm(PortalForm):
    use_portal_receiver = BooleanField("Deliver to this portal's own receiver: it verifies each event and shows it on "
                                       "the Events page")
    # No Optional() here: it would stop the chain before validate_url, so an empty submit would name only the
    # event types; validate_url itself knows when the URL may be empty (the portal's own receiver).
    url = StringField("Endpoint URL", validators=[Length(max=2048, message="At most 2,048 characters.")])
    description = StringField("Description", validators=[Optional(), Length(max=200, message="At most 200 characters.")])
    event_types = SelectMultipleField("Event types", choices=[(t, t) for t in EVENT_TYPES],
                                      option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False))
    all_events = BooleanField("All events, including types added later")
    keep_secret = BooleanField("Keep the signing secret in the portal, encrypted, so the signature debugger can check "
                               "this endpoint's deliveries")
    submission = HiddenField()

    def __init__(self, environment: str, receiver_base: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environment = environment
        self.receiver_base = receiver_base

    def validate_use_portal_receiver(self, field):
        if not field.data:
            return
        if self.receiver_base is None:
            raise ValidationError("This portal was reached at an address it does not know, so it cannot tell SIR "
                                  "Giving where to deliver. Set PORTAL_PUBLIC_URL to the portal's public address "
                                  "(or add this host to TRUSTED_HOSTS), or give your own endpoint's URL.")
        parts = urlsplit(self.receiver_base)
        if parts.scheme != "https" and not (self.environment == "sandbox" and parts.hostname in LOOPBACK):
            raise ValidationError(f"SIR Giving delivers {self.environment} events only to HTTPS addresses, and this "
                                  f"portal's address here is {self.receiver_base}. Set PORTAL_PUBLIC_URL to the "
                                  "portal's public https:// address, or give your own endpoint's URL.")

    def validate_url(self, field):
        if self.use_portal_receiver.data:
            return
        if not field.data:
            raise ValidationError("Enter the URL SIR Giving should deliver to, or choose the portal's own receiver.")
        parts = urlsplit(field.data.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("Enter a full URL, like https://your-app.example.com/webhooks/sir.")
        if parts.username is not None or parts.password is not None:
            # SIR Giving refuses them, and a password in a URL ends up in logs and on every page that lists it.
            raise ValidationError("Leave the user name and password out of the URL: SIR Giving does not accept "
                                  "them. Your endpoint checks each delivery's X-SIR-Signature instead.")
        if parts.scheme != "https" and not (self.environment == "sandbox" and parts.hostname in LOOPBACK):
            raise ValidationError("Use HTTPS: events carry reward data and a signature that must not travel in the "
                                  "clear. Plain http is accepted only for localhost in the sandbox.")

    def validate_event_types(self, field):
        if not field.data and not self.all_events.data:
            raise ValidationError("Choose at least one event type, or all events.")


class DeleteWebhookForm(PortalForm):
    confirm_url = StringField("Type the endpoint's URL to confirm")

    def __init__(self, expected: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def validate_confirm_url(self, field):
        if (field.data or "").strip() != self.expected:
            raise ValidationError("Type the URL exactly as shown to delete this endpoint.")


class RecoverForm(PortalForm):
    since = StringField("Failed since (UTC)", validators=[Length(max=25)])


class DebuggerForm(PortalForm):
    headers = TextAreaField("Delivery headers", validators=[Length(max=4000, message="At most 4,000 characters.")])
    body = TextAreaField("Raw body", validators=[Length(max=1024 * 1024, message="At most 1 MiB.")])
    receiver = HiddenField()
    secret = StringField("Or paste the endpoint's signing secret", validators=[Length(max=200)])


class ReplaceWebhookForm(RegisterWebhookForm):
    """Replace an endpoint: the register form, filled with the old endpoint's settings. Sent unchanged it rotates
    the signing secret only. Every event type the old endpoint receives must still reach an endpoint."""

    new_address = BooleanField("Give the portal's receiver a new address (otherwise it keeps the old one and "
                               "accepts both secrets while both endpoints exist)")

    def __init__(self, environment: str, receiver_base: str, old, others, *args, **kwargs):
        super().__init__(environment, receiver_base, *args, **kwargs)
        self.old, self.others = old, others

    def validate_event_types(self, field):
        super().validate_event_types(field)
        from .replacement import uncovered

        missing = uncovered(self.old, field.data or [], self.all_events.data, self.others)
        if missing:
            raise ValidationError(f"The old endpoint receives {', '.join(missing)}, and no other endpoint of yours "
                                  "does: keep {} in the replacement. To stop receiving {}, register a new "
                                  "endpoint and delete this one instead.".format(
                                      "it" if len(missing) == 1 else "them", "it" if len(missing) == 1 else "them"))

