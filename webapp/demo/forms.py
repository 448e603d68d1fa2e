"""The simulator controls' forms: a decision on a top-up request, and a move of the clock."""

from ..csrf import PortalForm
from wtforms import BooleanField, HiddenField, RadioField, StringField
from wtforms.validators import DataRequired, Length, Optional

# What "let time pass" offers: enough to see a grace period end, a key expire, a retry fall due.
CLOCK_STEPS = [("3600", "1 hour"), ("86400", "1 day"), ("604800", "7 days")]


class DecisionForm(PortalForm):
    request_id = HiddenField(validators=[DataRequired()])
    decision = RadioField("Decision", choices=[("approve", "Approve"), ("reject", "Reject")],
                          validators=[DataRequired("Choose approve or reject.")])
    note = StringField("Note to the partner", validators=[Optional(), Length(max=500, message="At most 500 characters.")])


class ClockForm(PortalForm):
    seconds = RadioField("Move the clock forward by", choices=CLOCK_STEPS, default="3600",
                         validators=[DataRequired("Choose how far to move the clock.")])
    # The simulator has one clock for every partner on it: a move is never made without this said and ticked.
    everyone = BooleanField("I understand: the clock moves for every partner on this portal, and their admins' "
                            "sign-ins end", validators=[DataRequired("The clock did not move. It moves for every "
                                                                     "partner on this portal and ends their admins' "
                                                                     "sign-ins: tick the box to confirm that.")])
