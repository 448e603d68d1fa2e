"""Storage: SQLAlchemy models and the queries the views call. Secrets are stored only encrypted (vault.py)."""

from .db import db
from .models import AuditEntry, FormSubmission, VaultCredential
from . import batches as _batches  # noqa: E402,F401  (its tables belong to the schema)
from . import alerts as _alerts  # noqa: E402,F401  (its tables belong to the schema)
from . import replacements as _replacements  # noqa: E402,F401  (its table belongs to the schema)

__all__ = ["db", "AuditEntry", "FormSubmission", "VaultCredential"]
