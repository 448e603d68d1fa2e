from __future__ import annotations

from ..sir import check, errors
from ..upstream import current_environment, partner_credential, session_jwt, sir_client
from ..web import render_htmx_template
from . import bp


@bp.get("/")
def page():
    """Asks SIR Giving afresh on every view (GETs only): this page is where an admin looks when something is off."""
    environment = current_environment()
    try:
        credential = partner_credential(environment)
    except errors.NoCredential as missing:
        return render_htmx_template("connection/page.html", "connection/_report.html", report=None,
                                    missing=missing, environment=environment)
    report = check.run(sir_client(), credential, environment, token=session_jwt())
    return render_htmx_template("connection/page.html", "connection/_report.html", report=report, missing=None,
                                environment=environment)
