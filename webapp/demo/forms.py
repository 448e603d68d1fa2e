"""The simulator controls' forms: a decision on a top-up request, and a move of the clock."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField
from wtforms.validators import DataRequired, Length, Optional

# What "let time pass" offers: enough to see a grace period end, a key expire, a retry fall due.
CLOCK_STEPS = [("3600", "1 hour"), ("86400", "1 day"), ("604800", "7 days")]


class DecisionForm(FlaskForm):
    request_id = HiddenField(validators=[DataRequired()])
    decision = RadioField("Decision", choices=[("approve", "Approve"), ("reject", "Reject")],
                          validators=[DataRequired("Choose approve or reject.")])
    note = StringField("Note to the partner", validators=[Optional(), Length(max=500, message="At most 500 characters.")])


class ClockForm(FlaskForm):
    seconds = RadioField("Move the clock forward by", choices=CLOCK_STEPS, default="3600",
                         validators=[DataRequired("Choose how far to move the clock.")])
