from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

MAX_TOP_UP = 10_000_000


class TopUpForm(FlaskForm):
    pool_id = SelectField("Pool", validators=[DataRequired("Choose the pool to top up.")])
    amount = StringField("Amount (tokens)", validators=[
        DataRequired("Enter how many tokens to request."),
        Regexp(r"^\s*\d[\d,\s]*$", message="Enter a whole number of tokens, like 25000."),
    ])
    reason = TextAreaField("Reason", validators=[
        DataRequired("Say why the pool needs more tokens; SIR Giving reviews every request."),
        Length(min=10, max=1000, message="Write between 10 and 1,000 characters."),
    ])

    def validate_amount(self, field):
        digits = (field.data or "").replace(",", "").replace(" ", "").strip()
        if not digits.isdigit():
            return
        value = int(digits)
        if value <= 0:
            raise ValidationError("The amount must be more than zero.")
        if value > MAX_TOP_UP:
            raise ValidationError(f"At most {MAX_TOP_UP:,} tokens per request; split a larger need over several.")
        field.tokens = value


class ConfirmTopUpForm(FlaskForm):
    pool_id = HiddenField()
    amount = HiddenField()
    reason = HiddenField()
    submission = HiddenField()
