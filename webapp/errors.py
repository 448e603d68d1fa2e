"""Error pages: plain language and a next step, never a traceback.

A failed SIR Giving call inside an htmx card returns a small error partial with status 200, so htmx swaps
it in place of the card; a full page gets the upstream error page. An expired sign-in sends the admin to
the login page with `next`; a missing credential sends them to the set-up page.
"""

from __future__ import annotations

from flask import Flask, flash, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError

from .metrics import route_of_request
from .sir import errors as sir_errors
from .web import go, is_htmx_partial_request, return_path


def init_app(app: Flask) -> None:
    init_rate_limit_page(app)

    @app.errorhandler(404)
    def not_found(error):
        if is_htmx_partial_request():
            return render_template("errors/_inline.html", title="Not found",
                                   message="That item does not exist, or it is not yours.",
                                   next_step="Go back to the list and reload it."), 404
        return render_template("errors/404.html"), 404

    @app.errorhandler(500)
    def server_error(error):
        from . import outages

        # A dependency that failed outside a view (saving the session, a template's banner): the named 503.
        if (dependency := outages.note(getattr(error, "original_exception", None) or error)) is not None:
            return outages.outage_response(dependency)
        # The route, not the path: a receiver's path is its secret address.
        app.logger.error("unhandled error on %s %s", request.method, route_of_request(),
                         exc_info=getattr(error, "original_exception", error))
        if is_htmx_partial_request():
            return render_template("errors/_inline.html", title="Something went wrong",
                                   message="The portal hit an unexpected error; nothing was changed.",
                                   next_step="Try again. If it keeps happening, check the portal's log."), 500
        return render_template("errors/500.html"), 500

    @app.errorhandler(CSRFError)
    def csrf_refused(error):
        message = "This form has expired or did not come from this portal, so nothing was changed."
        if is_htmx_partial_request():
            return render_template("errors/_inline.html", title="Form expired", message=message,
                                   next_step="Reload the page and submit it again."), 400
        # Back to the portal's page the form was on, never to whatever site the Referer names.
        return render_template("errors/upstream.html", error=_PageError(
            "Form expired", message, "Reload the page and submit it again.",
            return_path() or url_for("dashboard.overview"))), 400

    @app.errorhandler(sir_errors.SirError)
    def upstream_failed(error: sir_errors.SirError):
        if isinstance(error, sir_errors.Unauthorized):
            from .auth.kept_forms import keep_lapsed_form  # here: the auth blueprint's views import this module

            partner_id = (session.get("partner") or {}).get("id")
            session.clear()
            flash("Your session expired. Sign in again to continue.", "warning")
            return go(url_for("auth.login", next=keep_lapsed_form(partner_id, return_path())))
        if isinstance(error, sir_errors.NoCredential):
            return go(url_for("onboarding.index", next=return_path()))
        app.logger.warning("SIR Giving call failed: %s %s (%s)", error.code, error.path, error.status)
        if is_htmx_partial_request():
            return render_template("errors/_inline.html", title=error.title, message=error.message,
                                   next_step=error.next_step, retry_url=request.full_path.rstrip("?")), 200
        return render_template("errors/upstream.html", error=_PageError(
            error.title, error.message, error.next_step, request.full_path.rstrip("?"))), 502


SESSION_ERRORS = (sir_errors.Unauthorized, sir_errors.NoCredential)


def in_place(error: sir_errors.SirError) -> sir_errors.SirError:
    """An upstream error that a form or card shows in place, with its message and next step.

    A session problem is not the form's to explain: the admin's sign-in ended (sign in again) or the portal
    has no key (set it up). It is raised again, for `upstream_failed` to send the admin where it is fixed.
    Call it inside the `except` that caught the error."""
    if isinstance(error, SESSION_ERRORS):
        raise error
    return error


class _PageError:
    def __init__(self, title, message, next_step, retry_url=None):
        self.title, self.message, self.next_step, self.retry_url = title, message, next_step, retry_url


def init_rate_limit_page(app: Flask) -> None:
    @app.errorhandler(429)
    def too_many_requests(error):
        if request.endpoint == "auth.login":
            from .auth.forms import LoginForm
            from .auth.views import DEMO_ACCOUNTS, DEMO_PASSWORD

            form = LoginForm(formdata=None, email=request.form.get("email", ""), next=request.form.get("next", ""))
            return render_template("auth/login.html", form=form, rate_limited=True, upstream_error=None,
                                   demo_accounts=DEMO_ACCOUNTS, demo_password=DEMO_PASSWORD), 429
        message = "Too many requests in a short time; nothing more was done."
        if is_htmx_partial_request():
            return render_template("errors/_inline.html", title="Slow down", message=message,
                                   next_step="Wait a minute and try again."), 429
        return render_template("errors/upstream.html", error=_PageError(
            "Slow down", message, "Wait a minute and try again.")), 429
