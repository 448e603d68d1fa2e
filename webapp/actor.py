"""Who is acting: the signed-in admin, for their partner, in an environment. Workflows take an `Actor`
instead of reading the request, so they run (and are tested) without one; `Actor.audit` is the one way
the portal writes the audit log for what an admin did."""

from __future__ import annotations

from dataclasses import dataclass

from .store import audit


@dataclass(frozen=True)
class Actor:
    email: str
    partner_id: str
    environment: str
    remote_addr: str | None = None

    def audit(self, action: str, target: str | None = None, *, outcome: str = "success",
              detail: str | None = None, environment: str | None = None, commit: bool = True):
        """Record `action` on `target`; `environment` when it is not the admin's current one (a key of the
        other environment). Uncommitted with `commit=False`: it then commits with the caller's changes."""
        return audit.record(actor=self.email, action=action, outcome=outcome, partner_id=self.partner_id,
                            environment=environment or self.environment, target=target, detail=detail,
                            remote_addr=self.remote_addr, commit=commit)


def current_actor() -> Actor:
    """The signed-in admin of this request."""
    from flask import g, request

    from .upstream import current_environment

    return Actor(g.admin["email"], g.partner["id"], current_environment(), request.remote_addr)
