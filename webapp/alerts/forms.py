from urllib.parse import urlsplit

from ..csrf import PortalForm
from wtforms import BooleanField, IntegerField, PasswordField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from config import LOOPBACK_HOSTS, _EMAIL

MAX_RECIPIENTS = 20


def split_addresses(raw: str | None) -> list[str]:
    return [a.strip() for a in (raw or "").replace("\n", ",").replace(";", ",").split(",") if a.strip()]


class AlertSettingsForm(PortalForm):
    recipients = TextAreaField("E-mail recipients", validators=[Length(max=4000, message="At most 4,000 characters.")])
    # A password field: the URL is a secret (whoever has it can post to the channel) and is never shown again.
    chat_url = PasswordField("Chat webhook URL", validators=[Length(max=2048, message="At most 2,048 characters.")])
    remove_chat = BooleanField("Stop posting to the chat webhook (forget its URL)")
    failing_after = IntegerField("Alert when a webhook endpoint fails this many deliveries in a row",
                                 validators=[InputRequired("Enter a number from 1 to 100."),
                                             NumberRange(1, 100, "Enter a number from 1 to 100.")])

    def __init__(self, chat_to: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.chat_to = chat_to

    def validate_recipients(self, field):
        addresses = split_addresses(field.data)
        wrong = [a for a in addresses if not _EMAIL.fullmatch(a)]
        if wrong:
            raise ValidationError(f"Not an e-mail address: {', '.join(wrong[:3])}. Separate addresses with commas "
                                  "or new lines.")
        if len(addresses) > MAX_RECIPIENTS:
            raise ValidationError(f"At most {MAX_RECIPIENTS} recipients; use a mailing list for more.")

    def validate_chat_url(self, field):
        url = (field.data or "").strip()
        if not url:
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("Enter the full incoming-webhook URL your chat tool gave you, like "
                                  "https://hooks.slack.com/services/….")
        if parts.username or parts.password:
            raise ValidationError("Leave the user name and password out of the URL.")
        if parts.scheme != "https" and not (self.chat_to == "anywhere" and parts.hostname in LOOPBACK_HOSTS):
            raise ValidationError("Use https: the URL and the alerts must not travel in the clear.")
