
from ..csrf import PortalForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, ValidationError

from .. import clock
from ..sir.times import parse_day
from .rotation import GRACE_LABELS


class CreateKeyForm(PortalForm):
    name = StringField("Name", validators=[DataRequired("Give the key a name you will recognise, like “Checkout backend”."),
                                           Length(max=100, message="At most 100 characters.")])
    environment = SelectField("Environment", choices=[("sandbox", "Sandbox (sk_test_ / pk_test_)"),
                                                      ("production", "Production (sk_live_ / pk_live_)")])
    key_type = SelectField("Type", choices=[("secret", "Secret key pair: backend calls, signed with HMAC"),
                                            ("publishable", "Publishable only: browser widgets")])
    use_for_portal = BooleanField("Let the portal sign its own calls with this key (stored encrypted in the portal's vault)")
    submission = HiddenField()

    def validate_use_for_portal(self, field):
        if field.data and self.key_type.data != "secret":
            raise ValidationError("Only a secret key pair can sign the portal's calls.")


class RenameForm(PortalForm):
    name = StringField("New name", validators=[DataRequired("Enter a name."), Length(max=100, message="At most 100 characters.")])


class ExpiryForm(PortalForm):
    expires_on = StringField("Expires on (UTC)", validators=[DataRequired("Choose a date.")])

    def validate_expires_on(self, field):
        day = parse_day(field.data)
        if day is None:
            raise ValidationError("Enter a date like 2027-01-31.")
        moment = day.replace(hour=23, minute=59)
        if moment <= clock.now():
            raise ValidationError("The expiry must be in the future; to stop a key now, deactivate or revoke it.")
        field.moment = moment


class ConfirmNameForm(PortalForm):
    """Revoking is for good: the admin types the key's name to confirm."""

    confirm_name = StringField("Type the key's name to confirm")

    def __init__(self, expected: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def validate_confirm_name(self, field):
        if (field.data or "").strip() != self.expected:
            raise ValidationError(f"Type “{self.expected}” exactly to revoke this key.")


class ActiveForm(PortalForm):
    active = HiddenField()


class RollForm(PortalForm):
    grace = RadioField("When should the old key stop working?", choices=list(GRACE_LABELS.items()), default="24h",
                       validate_choice=False,
                       validators=[DataRequired("Choose when the old key stops working."),
                                   AnyOf(list(GRACE_LABELS), message="Choose one of the offered times: now, in 1 hour, "
                                                                      "24 hours, 3 days or 7 days.")])
    submission = HiddenField()
