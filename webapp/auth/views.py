from __future__ import annotations


from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf
from limits import parse_many

from .. import clock
from ..actor import current_actor
from ..dashboard.campaign_hint import carry_campaign_hint
from ..keys.banner import remember_key_flags
from ..limits import limiter
from ..sir import errors
from ..sir.client import ENVIRONMENTS
from ..upstream import sir_client
from ..web import safe_next
from . import bp
from .forms import LoginForm
from .session import jwt_expiry, login_required
from .sign_in import FIRST_ENVIRONMENT, SignedIn, sign_in

DEMO_ACCOUNTS = [("Acme Rewards", "admin@acme.example"), ("Globex Giving", "admin@globex.example")]
DEMO_PASSWORD = "sandbox-demo"


EMAIL_CEILING_FACTOR = 10


def _login_limit():
    return current_app.config["SETTINGS"].login_rate_limit


def _email_ceiling():
    """Failed sign-ins for one email from all addresses together: ten times LOGIN_RATE_LIMIT. A guesser spread
    over many addresses is slowed; wrong passwords typed elsewhere do not lock the admin out, whose own address
    has its own budget (the per-address limit, which also pauses one address guessing one email)."""
    return "; ".join(str(type(item)(item.amount * EMAIL_CEILING_FACTOR, item.multiples))
                     for item in parse_many(_login_limit()))


def _email_key():
    return "login-email:" + (request.form.get("email") or "").strip().lower()


def _sign_in_refused(response) -> bool:
    return response.status_code == 422  # a wrong email or password, or a form that was not filled in right


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="address")
@limiter.limit(_email_ceiling, key_func=_email_key, methods=["POST"], deduct_when=_sign_in_refused,
               error_message="email")
def login():
    form = LoginForm(next=request.args.get("next", ""))
    upstream_error = None
    if form.validate_on_submit():
        try:
            signed_in = sign_in(sir_client(), form.email.data.strip().lower(), form.password.data, request.remote_addr)
        except errors.InvalidCredentials:
            form.password.errors.append("Email or password is wrong.")
        except errors.SirError as error:
            upstream_error = error
        else:
            _start_session(signed_in)
            return redirect(safe_next(form.next.data, url_for("dashboard.overview")))
    status = 200 if request.method == "GET" or form.errors == {} and not upstream_error else 422
    if upstream_error:
        status = 503
    return render_template("auth/login.html", form=form, upstream_error=upstream_error,
                           demo_accounts=DEMO_ACCOUNTS, demo_password=DEMO_PASSWORD), status


def _start_session(signed_in: SignedIn) -> None:
    # A fresh session id at sign-in: a session id planted before login is worth nothing after it.
    current_app.session_interface.regenerate(session)
    session.clear()
    me = signed_in.me
    user = me.get("user") or {}
    partner = me.get("partner") or {}
    session.update(
        # The JWT is a credential: the session store (SQLite, PostgreSQL or Redis) only ever holds it encrypted.
        jwt=current_app.extensions["vault"].encrypt(signed_in.token),
        jwt_expires_at=jwt_expiry(signed_in.token) or clock.timestamp() + 3600,
        admin={"id": user.get("id"), "email": user.get("email"), "name": user.get("name")},
        partner={"id": partner.get("id"), "name": partner.get("name"), "slug": partner.get("slug"),
                 "status": partner.get("status")},
        publishable_key=me.get("publishableKey"),
        environment=FIRST_ENVIRONMENT,
    )
    session.permanent = True
    g.admin, g.partner = session["admin"], session["partner"]
    # What the first page would otherwise make, or learn, and save itself, with its calls leaving: the session's
    # CSRF token (cleared above), the key banner's list and the running campaign.
    g.pop(current_app.config["WTF_CSRF_FIELD_NAME"], None)  # the signed-out session's token, which clear() dropped
    generate_csrf()
    if signed_in.keys is not None:
        remember_key_flags(signed_in.keys)
    carry_campaign_hint()


@bp.post("/logout")
@login_required
def logout():
    current_actor().audit("sign_out")
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("auth.login"))


@bp.post("/environment")
@login_required
def switch_environment():
    environment = request.form.get("environment")
    if environment not in ENVIRONMENTS:
        flash("Choose sandbox or production.", "error")
    else:
        session["environment"] = environment
        flash(f"Now showing {environment} data." if environment == "sandbox"
              else "Now showing PRODUCTION data: changes here affect real rewards.",
              "info" if environment == "sandbox" else "warning")
    return redirect(safe_next(request.form.get("next"), url_for("dashboard.overview")))
