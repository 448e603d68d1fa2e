"""Command-line tasks: `flask vault rotate` re-encrypts every stored secret with the newest VAULT_KEY, `flask
vault check` proves the configured keys decrypt them all;
`flask prune` deletes what the portal no longer needs (webapp/housekeeping.py);
`flask alerts run` runs the alert checks once (for cron or a systemd timer; webapp/alerts/run.py);
`flask sir check` is the connection check (webapp/sir/check.py) with a partner's stored key."""

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

    @vault_group.command("check")
    def check():
        """Prove the configured VAULT_KEY decrypts every stored secret (exit 1 naming each one it cannot)."""
        checked, older, failing = current_app.extensions["vault"].check()
        if failing:
            for where in failing:
                click.echo(f"cannot decrypt: {where}", err=True)
            raise click.ClickException(
                f"{len(failing)} of {checked} stored secret(s) cannot be decrypted with the configured VAULT_KEY: "
                "restore the key they were encrypted with (add it after the newest), then run `vault rotate`.")
        click.echo(f"All {checked} stored secret(s) decrypt with the configured VAULT_KEY.")
        if older:
            click.echo(f"{older} of them are still encrypted with an older key: run `flask --app wsgi vault rotate` "
                       "before dropping it.")

    @app.cli.command("prune")
    def prune():
        """Delete old form tokens, unseen new secrets, long-expired cached answers and old received events."""
        from .housekeeping import prune_all

        counts = prune_all(current_app)
        click.echo("Pruned: " + ", ".join(f"{count} {kind}" for kind, count in counts.items()) + ".")

    @app.cli.group("alerts")
    def alerts_group():
        """Alerts outside the portal (e-mail, chat)."""

    @alerts_group.command("run")
    def alerts_run():
        """Run the alert checks for this interval (once per ALERTS_INTERVAL_MINUTES, whichever worker or
        machine comes first)."""
        from .alerts.run import run

        result = run(current_app)
        if not result.ran:
            click.echo("Alert checks for this interval already ran (or are running) elsewhere: nothing to do.")
            return
        click.echo(f"Alert checks done: {result.sent} alert(s) sent.")
        for problem in result.problems:
            click.echo(f"could not check: {problem}", err=True)

    @app.cli.group("sir")
    def sir_group():
        """SIR Giving, as this portal reaches it."""

    @sir_group.command("check")
    @click.option("--partner", help="partner id (default: the only partner with a stored key)")
    @click.option("--environment", type=click.Choice(["sandbox", "production"]),
                  help="environment to check (default: every one the partner has a key for)")
    def sir_check(partner, environment):
        """Ask every endpoint the portal reads, once, with the partner's own key (reads only, never a write): one
        line per endpoint. Exits 1 on any problem."""
        from .sir import check

        stored = current_app.extensions["vault"].stored()
        partners = sorted({p for p, _ in stored})
        if partner is None:
            if len(partners) != 1:
                raise click.UsageError("no partner has a stored key yet: set one up on the onboarding page"
                                       if not partners else "several partners have stored keys: choose one with "
                                       "--partner (" + ", ".join(partners) + ")")
            partner = partners[0]
        environments = [e for p, e in stored if p == partner and (environment is None or e == environment)]
        if not environments:
            raise click.UsageError(f"partner {partner} has no stored {environment or ''} key".replace("  ", " "))
        client, problems = current_app.extensions["sir_client"], 0
        for env in environments:
            credential = current_app.extensions["vault"].credential_for(partner, env)
            report = check.run(client, credential, env)
            click.echo(f"SIR Giving connection check: partner {partner}, {env}, key {report.key_prefix}…")
            for kind, url in report.hosts:
                click.echo(f"  host  {kind}: {url}")
            offset = report.clock_offset
            click.echo(f"  clock SIR Giving's clock is {check.format_offset(offset)} from this machine's"
                       + (" (signed calls use the corrected time)" if offset is not None and abs(offset) > 2 else ""))
            for result in report.results:
                click.echo(result.line())
            click.echo("  sign-in calls (auth/me, keys/partner-info, keys) are checked on the page, /connection/")
            click.echo(f"{len(report.results) - len(report.problems)} of {len(report.results)} endpoints fine, "
                       f"{len(report.problems)} with a problem.\n")
            problems += len(report.problems)
        if problems:
            raise click.exceptions.Exit(1)
