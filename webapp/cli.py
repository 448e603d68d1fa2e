"""Command-line tasks: `flask vault rotate` re-encrypts every stored secret with the newest VAULT_KEY;
`flask prune` deletes what the portal no longer needs (webapp/housekeeping.py)."""

from __future__ import annotations

import click
from flask import Flask, current_app


def init_app(app: Flask) -> None:
    @app.cli.group("vault")
    def vault_group():
        """The credential vault."""

    @vault_group.command("rotate")
    def rotate():
        """Re-encrypt every stored secret with the first key of VAULT_KEY (then drop the old key)."""
        count = current_app.extensions["vault"].rewrap_all()
        click.echo(f"Re-encrypted {count} credential(s) with the newest VAULT_KEY.")

    @app.cli.command("prune")
    def prune():
        """Delete old form tokens, unseen new secrets, long-expired cached answers and old received events."""
        from .housekeeping import prune_all

        counts = prune_all(current_app)
        click.echo("Pruned: " + ", ".join(f"{count} {kind}" for kind, count in counts.items()) + ".")
