"""Storage: SQLAlchemy models and the queries the views call. Secrets are stored only encrypted (vault.py)."""

from .db import db
from .models import AuditEntry, FormSubmission, VaultCredential

__all__ = ["db", "AuditEntry", "FormSubmission", "VaultCredential"]
