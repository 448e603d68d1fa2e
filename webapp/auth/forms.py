from ..csrf import PortalForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp


class LoginForm(PortalForm):
    email = StringField("Email", validators=[
        DataRequired("Enter the email of your SIR Giving account."),
        Length(max=254, message="That email is too long."),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address like name@example.com."),
    ])
    password = PasswordField("Password", validators=[
        DataRequired("Enter your password."), Length(max=512, message="That password is too long.")])
    next = HiddenField()
