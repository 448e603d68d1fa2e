"""Every knob of the portal, in one place: defaults in code, overrides from the environment.

`Settings.from_env()` reads and checks them at start-up; a bad value fails fast with its name.
Secrets may come from `NAME_FILE` (a path whose content is the value), as Docker and systemd pass them.
With no variables at all the portal runs on the embedded default: in-process simulator, SQLite under
the instance folder, generated secrets kept there with mode 0600.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

SIMULATOR_SANDBOX_URL = "https://sandbox.simulator.invalid"
SIMULATOR_PRODUCTION_URL = "https://production.simulator.invalid"
REAL_SANDBOX_URL = "https://devapi.sirgiving.org"
REAL_PRODUCTION_URL = "https://api.sirgiving.org"

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
# The Host headers a development portal answers with no TRUSTED_HOSTS set: the addresses of the quickstart.
DEVELOPMENT_HOSTS = ["localhost", "127.0.0.1"]
# Session cookies and CSRF tokens are signed with SECRET_KEY: in production it must be long enough that
# guessing it is out of reach (e.g. `python -c "import secrets; print(secrets.token_urlsafe(48))"`).
MIN_SECRET_KEY_BYTES = 32


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names it."""


def env_secret(name: str, environ: dict[str, str]) -> str | None:
    """`NAME` from the environment, or the content of the file named by `NAME_FILE`."""
    value = environ.get(name)
    if value:
        return value
    path = environ.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text().strip() or None
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None


def _int(environ, name, default, low, high):
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _float(environ, name, default, low, high):
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _rate_limit(environ, name, default):
    from limits import parse_many

    raw = environ.get(name) or default
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a rate limit such as '600 per minute', got {raw!r}") from None
    return raw


def _choice(environ, name, default, choices):
    raw = environ.get(name) or default
    if raw not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
    return raw


def _url(environ, name):
    raw = environ.get(name)
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}: expected an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


# A host name or IPv4 address as Werkzeug matches a Host header against TRUSTED_HOSTS (the port is ignored; a
# leading dot takes every subdomain too). IPv6 literals cannot be matched there, so they are not offered.
_TRUSTED_HOST = re.compile(r"\.?[a-z0-9-]+(\.[a-z0-9-]+)*", re.ASCII)


def _hosts(environ, name) -> list[str] | None:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    hosts = [h.strip().lower() for h in raw.split(",") if h.strip()]
    for host in hosts:
        if not _TRUSTED_HOST.fullmatch(host):
            raise ConfigError(f"{name}: expected comma-separated host names without scheme or port "
                              f"(portal.example.com, .example.com for its subdomains), got {host!r}")
    if not hosts:
        raise ConfigError(f"{name}: expected at least one host name, got {raw!r}")
    return hosts


def private_folder(path: Path) -> None:
    """`path` as a folder only the portal's user can enter (0700, whatever the umask); an older one left open
    is closed. It holds the database, the HTTP cache and the generated secrets."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _make_private(path, 0o700)


# SQLite gives its journal files the database file's mode; an older install may have left them open.
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")


def private_file(path: Path) -> None:
    """`path` as a file only the portal's user can read (0600, whatever the umask): created empty before a
    library (SQLite, requests-cache) would create it with the umask's mode, or closed if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
            if candidate.exists():
                _make_private(candidate, 0o600)
        return
    os.fchmod(fd, 0o600)
    os.close(fd)


def _make_private(path: Path, mode: int) -> None:
    if stat.S_IMODE(path.stat().st_mode) == mode:
        return
    try:
        path.chmod(mode)
    except PermissionError:  # another user's folder (a mounted volume): say so, but it is the operator's call
        logging.getLogger(__name__).warning("cannot restrict %s to mode %o: it belongs to another user", path, mode)


def _generated_secret(instance: Path, filename: str, make) -> str:
    """A secret generated once into the instance folder (mode 0600) and reused after."""
    path = instance / filename
    private_folder(instance)
    if path.exists():
        _make_private(path, 0o600)
        return path.read_text().strip()
    value = make()
    # O_EXCL: two workers starting at once must not both write a different secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        return path.read_text().strip()
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


@dataclass
class Settings:
    instance_path: Path
    production: bool
    secret_key: str
    vault_keys: list[str]
    secrets_generated: list[str]
    database_url: str
    redis_url: str | None
    sandbox_url: str
    production_url: str
    embedded_simulator: bool
    connect_timeout: float
    read_timeout: float
    cache_ttl_seconds: int
    overview_budget_seconds: float
    simulator_seed: int
    simulator_latency_ms: int
    login_rate_limit: str
    receiver_rate_limit: str
    workers: int
    public_url: str | None = None
    trusted_proxies: int = 0
    trusted_hosts: list[str] | None = None
    simulator_state_key: str | None = None
    receiver_refusal_limit: str = "60 per minute"
    log_format: str = "text"
    signature_check_to: str = "public"
    metrics_token: str | None = None
    event_retention_days: int = 30
    reveal_expiry_minutes: int = 30
    simulator_variant: str = ""
    batch_max_rows: int = 10_000
    batch_max_file_mb: int = 10
    batch_lease_seconds: int = 60
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    smtp_tls: str = "starttls"
    alerts_scheduler: bool = False
    alerts_interval_minutes: int = 15
    alert_chat_to: str = "public"
    sir_live_keys_host: str = "production"
    cache_prune_minutes: int = 10
    cache_max_entries: int = 100_000
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = dict(os.environ if environ is None else environ)
        instance = Path(environ.get("INSTANCE_PATH") or Path.cwd() / "instance").resolve()
        mode = environ.get("PORTAL_ENV", "development")
        if mode not in ("development", "production"):
            raise ConfigError(f"PORTAL_ENV: expected 'development' or 'production', got {mode!r}")
        production = mode == "production"

        generated = []
        secret_key = env_secret("SECRET_KEY", environ)
        if not secret_key:
            if production:
                raise ConfigError("SECRET_KEY: required in production (or SECRET_KEY_FILE)")
            secret_key = _generated_secret(instance, "secret_key", lambda: secrets.token_urlsafe(48))
            generated.append("SECRET_KEY")
        if production and len(secret_key.encode()) < MIN_SECRET_KEY_BYTES:
            raise ConfigError(f"SECRET_KEY: needs at least {MIN_SECRET_KEY_BYTES} bytes in production, got "
                              f"{len(secret_key.encode())}; generate one with secrets.token_urlsafe(48)")

        vault_raw = env_secret("VAULT_KEY", environ)
        if not vault_raw:
            if production:
                raise ConfigError("VAULT_KEY: required in production (or VAULT_KEY_FILE)")
            vault_raw = _generated_secret(instance, "vault_key", lambda: Fernet.generate_key().decode())
            generated.append("VAULT_KEY")
        # Comma-separated, newest first: MultiFernet decrypts with any and encrypts with the first.
        vault_keys = [k.strip() for k in vault_raw.split(",") if k.strip()]
        for index, key in enumerate(vault_keys):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise ConfigError(
                    f"VAULT_KEY: entry {index + 1} is not a Fernet key (32 url-safe base64 bytes)"
                ) from None

        api_url = _url(environ, "SIR_API_URL")
        sandbox_url = _url(environ, "SIR_SANDBOX_URL") or api_url
        production_url = _url(environ, "SIR_PRODUCTION_URL") or api_url
        embedded = not (sandbox_url or production_url)
        if embedded:
            if production:
                raise ConfigError("SIR_API_URL: production mode needs a real SIR Giving host")
            sandbox_url, production_url = SIMULATOR_SANDBOX_URL, SIMULATOR_PRODUCTION_URL
        else:
            sandbox_url = sandbox_url or REAL_SANDBOX_URL
            production_url = production_url or REAL_PRODUCTION_URL
            if production:
                for name, url in (("SIR_SANDBOX_URL", sandbox_url), ("SIR_PRODUCTION_URL", production_url)):
                    parts = urlsplit(url)
                    if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
                        raise ConfigError(f"{name}: plain http is refused in production except on loopback ({url})")

        database_url = environ.get("DATABASE_URL") or f"sqlite:///{instance / 'portal.sqlite3'}"
        if database_url.startswith("postgres://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
        elif database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
        if not database_url.startswith(("sqlite:", "postgresql")):
            raise ConfigError(f"DATABASE_URL: expected a PostgreSQL or SQLite URL, got {database_url.split(':')[0]}:…")

        redis_url = environ.get("REDIS_URL") or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"REDIS_URL: expected redis://, rediss:// or unix://, got {redis_url!r}")

        simulator_state_key = None
        if embedded:
            # The embedded simulator's journal holds every key's secrets: sealed with a key of its own, which
            # (like the vault key on the embedded default) is generated once into the instance folder.
            simulator_state_key = env_secret("SIMULATOR_STATE_KEY", environ) or _generated_secret(
                instance, "simulator_state_key", lambda: Fernet.generate_key().decode())
            try:
                Fernet(simulator_state_key)
            except (ValueError, TypeError):
                raise ConfigError("SIMULATOR_STATE_KEY: not a Fernet key (32 url-safe base64 bytes)") from None

        # Webhook receiver URLs are built from PORTAL_PUBLIC_URL, else from the request's Host header. A Host
        # header is the client's to write, so production names the address outright, and every request must
        # come to a host the portal knows (TRUSTED_HOSTS; Flask answers 400 to any other).
        public_url = _url(environ, "PORTAL_PUBLIC_URL")
        if production and not public_url:
            raise ConfigError("PORTAL_PUBLIC_URL: required in production: the portal's address as SIR Giving "
                              "reaches it (https://portal.example.com), so no webhook address is built from a "
                              "request's Host header")
        trusted_hosts = _hosts(environ, "TRUSTED_HOSTS")
        if trusted_hosts is None:
            trusted_hosts = [] if production else list(DEVELOPMENT_HOSTS)
            if public_url and urlsplit(public_url).hostname not in trusted_hosts:
                trusted_hosts.append(urlsplit(public_url).hostname)

        workers = _int(environ, "WEB_CONCURRENCY", 1, 1, 256)
        settings = cls(
            instance_path=instance,
            production=production,
            secret_key=secret_key,
            vault_keys=vault_keys,
            secrets_generated=generated,
            database_url=database_url,
            redis_url=redis_url,
            sandbox_url=sandbox_url,
            production_url=production_url,
            embedded_simulator=embedded,
            connect_timeout=_float(environ, "SIR_CONNECT_TIMEOUT", 3.05, 0.1, 60),
            read_timeout=_float(environ, "SIR_READ_TIMEOUT", 10.0, 0.1, 120),
            cache_ttl_seconds=_int(environ, "SIR_CACHE_TTL", 30, 0, 3600),
            # How long the overview waits for its cards' round before it sends the late ones as skeletons.
            overview_budget_seconds=_float(environ, "OVERVIEW_BUDGET_SECONDS", 2.5, 0.1, 60),
            simulator_seed=_int(environ, "SIMULATOR_SEED", 42, 0, 2**31 - 1),
            simulator_latency_ms=_int(environ, "SIMULATOR_LATENCY_MS", 0, 0, 60_000),
            simulator_state_key=simulator_state_key,
            simulator_variant=_simulator_variant(environ),
            login_rate_limit=_rate_limit(environ, "LOGIN_RATE_LIMIT", "10 per minute"),
            # Genuine deliveries per receiver: high, so SIR Giving's retry backlog after an outage is taken at once.
            receiver_rate_limit=_rate_limit(environ, "RECEIVER_RATE_LIMIT", "6000 per minute"),
            # Refused deliveries (forged, unknown address) per sending address: a forger's flood gets 429s.
            receiver_refusal_limit=_rate_limit(environ, "RECEIVER_REFUSAL_LIMIT", "60 per minute"),
            log_format=_choice(environ, "LOG_FORMAT", "text", ("text", "json")),
            metrics_token=env_secret("METRICS_TOKEN", environ),
            workers=workers,
            public_url=public_url,
            trusted_hosts=trusted_hosts,
            # How many reverse proxies in front of the portal set X-Forwarded-*: without them counted, every
            # client behind a proxy has the proxy's address (and they share one sign-in budget).
            trusted_proxies=_int(environ, "TRUSTED_PROXIES", 0, 0, 10),
            # Housekeeping (`flask prune`, and a bounded round at start-up): received events older than this
            # are deleted; a new secret whose once-only page was never opened is erased after this long.
            event_retention_days=_int(environ, "EVENT_RETENTION_DAYS", 30, 1, 3650),
            reveal_expiry_minutes=_int(environ, "SECRET_REVEAL_MINUTES", 30, 1, 24 * 60),
            # Where the go-live signature check may send its forged deliveries: a public address only, or
            # anywhere (a handler on this machine, while developing; refused in production).
            signature_check_to=_choice(environ, "SIGNATURE_CHECK_TO", "public", ("public", "anywhere")),
            # Reward batches from a CSV: the largest file and number of rows one upload may hold, and how long a
            # worker holds a sending batch (a worker killed mid-chunk leaves it to the next after this long).
            batch_max_rows=_int(environ, "BATCH_MAX_ROWS", 10_000, 1, 100_000),
            batch_max_file_mb=_int(environ, "BATCH_MAX_FILE_MB", 10, 1, 100),
            batch_lease_seconds=_int(environ, "BATCH_LEASE_SECONDS", 60, 5, 3600),
            # Key management for live keys: on the production host (the reference's hosts cover every path), or
            # on the host the admin signed in at (docs/architecture.md, "Hosts").
            sir_live_keys_host=_choice(environ, "SIR_LIVE_KEYS_HOST", "production", ("production", "sign-in")),
            # The SQLite HTTP cache, pruned while the portal runs: every this many minutes (0: only at start-up
            # and by `flask prune`), down to at most this many cached answers.
            cache_prune_minutes=_int(environ, "CACHE_PRUNE_MINUTES", 10, 0, 24 * 60),
            cache_max_entries=_int(environ, "CACHE_MAX_ENTRIES", 100_000, 100, 10_000_000),
        )
        _alert_settings(settings, environ, production)
        if production and settings.signature_check_to != "public":
            raise ConfigError("SIGNATURE_CHECK_TO: must be 'public' in production: the signature check never posts "
                              "to a private or loopback address from a production portal")
        if embedded and workers > 1:
            raise ConfigError(
                "WEB_CONCURRENCY: the embedded simulator lives inside one process, so it cannot serve "
                f"{workers} workers. Run one worker with threads (gunicorn -w 1 --threads 8), or start "
                "`python -m simulator --port 4010` and set SIR_API_URL=http://127.0.0.1:4010"
            )
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings


_EMAIL = re.compile(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+")


def _alert_settings(settings: "Settings", environ, production: bool) -> None:
    """Alerts outside the portal (webapp/alerts): the SMTP server e-mails go through, the in-process schedule,
    and where a chat webhook may post. No SMTP_HOST: e-mail alerts are off (the settings page says so)."""
    settings.smtp_host = (environ.get("SMTP_HOST") or "").strip() or None
    settings.smtp_port = _int(environ, "SMTP_PORT", 587, 1, 65535)
    settings.smtp_user = environ.get("SMTP_USER") or None
    settings.smtp_password = env_secret("SMTP_PASSWORD", environ)
    settings.smtp_from = (environ.get("SMTP_FROM") or "").strip() or None
    # starttls: upgrade a plain connection (port 587); tls: TLS from the first byte (port 465); none: plain.
    settings.smtp_tls = _choice(environ, "SMTP_TLS", "starttls", ("starttls", "tls", "none"))
    if settings.smtp_host:
        if not settings.smtp_from or not _EMAIL.fullmatch(settings.smtp_from):
            raise ConfigError(f"SMTP_FROM: expected the address alerts are sent from (alerts@example.com), got "
                              f"{settings.smtp_from!r}")
        if bool(settings.smtp_user) != bool(settings.smtp_password):
            raise ConfigError("SMTP_USER: set together with SMTP_PASSWORD (or SMTP_PASSWORD_FILE), or neither")
        if production and settings.smtp_tls == "none" and settings.smtp_host not in LOOPBACK_HOSTS:
            raise ConfigError("SMTP_TLS: 'none' is refused in production except to a loopback relay: alerts and "
                              "the SMTP password must not travel in the clear")
    elif settings.smtp_user or settings.smtp_password or settings.smtp_from:
        raise ConfigError("SMTP_HOST: required when SMTP_USER, SMTP_PASSWORD or SMTP_FROM is set")
    # The checks run every ALERTS_INTERVAL_MINUTES, by `flask --app wsgi alerts run` from cron or a systemd
    # timer, or by a thread inside the portal: on by default on the embedded default (one process), off
    # elsewhere unless ALERTS_SCHEDULER=on. Either way a database claim makes it one run per interval.
    scheduler = _choice(environ, "ALERTS_SCHEDULER", "auto", ("auto", "on", "off"))
    settings.alerts_scheduler = scheduler == "on" or (scheduler == "auto" and settings.embedded_simulator)
    settings.alerts_interval_minutes = _int(environ, "ALERTS_INTERVAL_MINUTES", 15, 1, 24 * 60)
    # Where a chat webhook may post: public addresses only (the portal's SSRF policy), or anywhere (a chat
    # relay on this machine or the local network; refused in production).
    settings.alert_chat_to = _choice(environ, "ALERT_CHAT_TO", "public", ("public", "anywhere"))
    if production and settings.alert_chat_to != "public":
        raise ConfigError("ALERT_CHAT_TO: must be 'public' in production: alerts never post to a private or "
                          "loopback address from a production portal")


def _simulator_variant(environ) -> str:
    """SIMULATOR_VARIANT: how the embedded simulator differs from its defaults (simulator/variant.py), e.g.
    `lists=bare,errors=opaque`; checked here so a typo fails at start-up with its name."""
    raw = environ.get("SIMULATOR_VARIANT", "").strip()
    if raw:
        from simulator.variant import Variant

        try:
            Variant.parse(raw)
        except ValueError as error:
            raise ConfigError(f"SIMULATOR_VARIANT: {error}") from None
    return raw
