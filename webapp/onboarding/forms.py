from ..csrf import PortalForm
from wtforms import HiddenField, PasswordField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError


class CreatePortalKeyForm(PortalForm):
    submission = HiddenField()
    next = HiddenField()


class PasteCredentialForm(PortalForm):
    secret_key = PasswordField("Secret key", validators=[
        DataRequired("Paste the secret key (it starts with sk_test_ or sk_live_)."),
        Length(max=200, message="That is longer than any SIR Giving key."),
        Regexp(r"^sk_(test|live)_[A-Za-z0-9]+$",
               message="A secret key starts with sk_test_ or sk_live_ and has only letters and digits."),
    ])
    hmac_secret = PasswordField("HMAC secret", validators=[
        DataRequired("Paste the HMAC secret that was shown with the key."),
        Regexp(r"^[0-9a-fA-F]{64}$", message="The HMAC secret is 64 hexadecimal characters."),
    ])
    next = HiddenField()

    def __init__(self, environment: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environment = environment

    def validate_secret_key(self, field):
        expected = "sk_test_" if self.environment == "sandbox" else "sk_live_"
        if field.data and not field.data.startswith(expected):
            other = "production" if self.environment == "sandbox" else "sandbox"
            raise ValidationError(f"This is a {other} key; the portal is in {self.environment}, "
                                  f"which needs a key starting with {expected}.")
