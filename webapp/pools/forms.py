"""The top-up request: step 1 (pool, amount, reason) and step 2 (the same values, confirmed once).

The limits match SIR Giving's (`POST /token-pools/request`: a whole amount from 1 to 10,000,000, a reason
of at most 1,000 characters); the portal asks for a reason of at least 10 characters, because SIR Giving
reviews every request by hand.
"""

from ..csrf import PortalForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.fields import StringField
from wtforms.validators import DataRequired, Length, ValidationError

from .top_ups import TopUp

MAX_TOP_UP = 10_000_000
REASON_MIN, REASON_MAX = 10, 1000


def parse_tokens(text: str | None) -> int | None:
    """'25,000' or '25 000' → 25000; anything that is not a whole number → None."""
    digits = (text or "").strip().replace(",", "").replace(" ", "").replace("_", "")
    return int(digits) if digits.isascii() and digits.isdigit() else None


class TopUpForm(PortalForm):
    pool_id = SelectField("Pool", validators=[DataRequired("Choose the pool to top up.")])
    amount = StringField("Amount (tokens)", validators=[DataRequired("Enter how many tokens to request.")])
    reason = TextAreaField("Reason", validators=[
        DataRequired("Say why the pool needs more tokens; SIR Giving reviews every request."),
        Length(min=REASON_MIN, max=REASON_MAX,
               message=f"Write between {REASON_MIN} and {REASON_MAX:,} characters."),
    ])
    submission = HiddenField()

    def offer(self, pools, chosen_id: str) -> None:
        """The pools to choose from: every active one, and the chosen one even if it is not."""
        self.pool_id.choices = [(p.id, f"{p.name} — {p.balance:,} tokens left") for p in pools
                                if p.status != "inactive" or p.id == chosen_id]

    def validate_amount(self, field):
        value = parse_tokens(field.data)
        if value is None:
            raise ValidationError("Enter a whole number of tokens, like 25000.")
        if value <= 0:
            raise ValidationError("The amount must be more than zero.")
        if value > MAX_TOP_UP:
            raise ValidationError(f"At most {MAX_TOP_UP:,} tokens per request; split a larger need over several.")
        field.tokens = value

    def top_up(self) -> TopUp:
        """The request, once the form is valid."""
        return TopUp(self.pool_id.data, self.amount.tokens, self.reason.data.strip())

    def validate_one(self, name: str) -> bool:
        """Validate one field on its own (live validation as the admin leaves it)."""
        field = self[name]
        inline = getattr(self, f"validate_{name}", None)
        return field.validate(self, [lambda form, checked: inline(checked)] if inline else [])


class ConfirmTopUpForm(PortalForm):
    pool_id = HiddenField()
    amount = HiddenField()
    reason = HiddenField()
    submission = HiddenField()

    @classmethod
    def of(cls, top_up: TopUp, submission: str) -> "ConfirmTopUpForm":
        return cls(pool_id=top_up.pool_id, amount=str(top_up.amount), reason=top_up.reason, submission=submission)

    def top_up(self) -> TopUp | None:
        """The request step 1 checked; None when the confirmation breaks its rules (this portal did not make it)."""
        amount = parse_tokens(self.amount.data)
        reason = (self.reason.data or "").strip()
        if amount is None or not 0 < amount <= MAX_TOP_UP or not REASON_MIN <= len(reason) <= REASON_MAX:
            return None
        return TopUp(self.pool_id.data, amount, reason)
