"""Reward batches from a CSV: upload and check, preflight, confirm, send exactly once in chunks, result file."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("batches", __name__, url_prefix="/batches")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
