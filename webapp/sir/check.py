"""The connection check: every endpoint the portal reads, called once with the partner's own key (GETs only,
never a write), and what came back compared with what the portal understands.

What an admin runs the first time the portal is pointed at the real SIR Giving, and what support asks for when
something looks wrong: per endpoint, whether it answered, how fast, whether the key (or the sign-in) was
accepted, SIR Giving's clock as its `Date` showed it, and the reply's shape — the list form (a bare array,
`{data}`, `{data, pagination}`), fields the portal needs that are missing or unreadable (the models of
webapp/sir/models.py decide, exactly as the pages parse), optional fields that are absent, fields it ignores, and
query parameters the upstream ignored. Runs without a request: the page (views.py) and `flask sir check` share it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, get_args
from urllib.parse import urlsplit

from pydantic import AliasPath, BaseModel

from . import errors, models
from .client import Credential, SirClient

REFUSED_STATUSES = (401, 403)


@dataclass(frozen=True)
class Probe:
    """One read the portal makes: its path as the reference names it, the model that reads it."""

    path: str  # as the reference writes it (`:id` for an id)
    model: type[BaseModel] | None  # the reply's (or, for a list, each item's) model; None: read raw
    parse: Callable[[Any, str], Any] | None = None  # the portal's own reader of the reply, if not model.parse
    params: dict = field(default_factory=dict)
    is_list: bool = False
    needs: str | None = None  # "campaign", "pool", "webhook": the id comes from that list's first item
    absent_ok: bool = False  # a 404 is an answer (no active campaign)


# Every signed read the portal makes (webapp/sir/api.py), in the order the check asks them.
SIGNED_PROBES = (
    Probe("/v1/partner/users", None, params={"page": 1, "limit": 1}, is_list=True),
    Probe("/v1/partner/dashboard/summary", models.Summary),
    Probe("/v1/partner/dashboard/trends", models.Trends, params={"days": 30}),
    Probe("/v1/partner/dashboard/top-earners", models.TopEarner, params={"limit": 1, "days": 30}, is_list=True),
    Probe("/v1/partner/dashboard/webhooks/health", models._WebhookHealth),
    Probe("/v1/partner/dashboard/api-usage", models.ApiUsage, params={"days": 7}),
    Probe("/v1/partner/dashboard/recent-activity", models.RecentAction, params={"limit": 1}, is_list=True),
    Probe("/v1/partner/dashboard/integration-health", models._IntegrationHealth),
    Probe("/v1/partner/campaigns/active", models.Campaign, absent_ok=True),
    Probe("/v1/partner/campaigns", models.Campaign, params={"page": 1, "limit": 1}, is_list=True),
    Probe("/v1/partner/campaigns/:id", models.Campaign, needs="campaign"),
    Probe("/v1/partner/dashboard/campaigns/:id/analytics", models.CampaignAnalytics, needs="campaign"),
    Probe("/v1/partner/token-pools", models.TokenPool, params={"page": 1, "limit": 1}, is_list=True),
    Probe("/v1/partner/token-pools/:id/balance", models.TokenPool, parse=models.TokenPool.parse_balance, needs="pool"),
    Probe("/v1/partner/token-pools/requests", models.AllocationRequest, params={"page": 1, "limit": 1}, is_list=True),
    Probe("/v1/partner/webhooks", models.Webhook, params={"page": 1, "limit": 1}, is_list=True),
    Probe("/v1/partner/webhooks/:id/deliveries", models.Delivery, params={"page": 1, "limit": 1}, is_list=True,
          needs="webhook"),
    Probe("/v1/partner/actions", models.RecentAction, params={"limit": 1}, is_list=True),
)
# Which list gives the id a probe needs.
ID_FROM = {"/v1/partner/campaigns": "campaign", "/v1/partner/token-pools": "pool", "/v1/partner/webhooks": "webhook"}
# A read that must fail: how SIR Giving words an error (with a `code`, or only a status).
UNKNOWN_ID = "portal-connection-check-unknown"

# The admin's own reads (with their sign-in, not the key): the page checks them, the command cannot.
JWT_PROBES = (
    Probe("/v1/partner/auth/me", None),
    Probe("/v1/partner/keys/partner-info", None),
    Probe("/v1/partner/keys", models.ApiKey, params={"page": 1, "limit": 1}, is_list=True),
)


@dataclass
class Result:
    """What one endpoint answered, and what the portal makes of it."""

    method: str
    path: str
    host: str
    auth: str  # "key", "sign-in"
    status: int | None = None
    latency_ms: float | None = None
    clock_offset: float | None = None
    form: str | None = None  # "bare", "data", "envelope", "object"
    missing: str | None = None  # the first needed field missing or unreadable (MalformedReply's detail)
    absent: list[str] = field(default_factory=list)  # optional fields not sent
    ignored: list[str] = field(default_factory=list)  # fields the portal does not read
    notes: list[str] = field(default_factory=list)
    problem: str | None = None  # why the endpoint could not be used at all
    skipped: str | None = None

    @property
    def reachable(self) -> bool:
        return self.status is not None

    @property
    def accepted(self) -> bool | None:
        return None if self.status is None else self.status not in REFUSED_STATUSES

    @property
    def ok(self) -> bool:
        return self.skipped is not None or (self.problem is None and self.missing is None)

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "skipped"
        return "ok" if self.ok else "PROBLEM"

    @property
    def shape(self) -> str:
        """The shape in a few words: understood or not, and what differs."""
        if self.skipped:
            return self.skipped
        if self.problem:
            return self.problem
        parts = [f"{self.form}" if self.form else "", f"missing {self.missing}" if self.missing else "understood"]
        if self.ignored:
            parts.append("ignores " + ", ".join(self.ignored))
        if self.absent:
            parts.append("absent " + ", ".join(self.absent))
        parts.extend(self.notes)
        return "; ".join(p for p in parts if p)

    def line(self) -> str:
        """One line: verdict, call, host, status, latency, auth, clock, shape."""
        status = str(self.status) if self.status is not None else "—"
        latency = f"{self.latency_ms:.0f} ms" if self.latency_ms is not None else "—"
        auth = {True: "accepted", False: "REFUSED", None: "—"}[self.accepted]
        return (f"{self.verdict:<7} {self.method} {self.path:<48} {urlsplit(self.host).netloc:<28} {status:>3} "
                f"{latency:>7}  {self.auth} {auth:<8}  clock {format_offset(self.clock_offset):>7}  {self.shape}")


@dataclass
class Report:
    environment: str
    key_prefix: str
    hosts: list[tuple[str, str]]  # (kind of call, base URL)
    results: list[Result]
    clock_offset: float | None

    @property
    def problems(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.problems


def format_offset(offset: float | None) -> str:
    return "—" if offset is None else f"{offset:+.0f} s"


def hosts_of(client: SirClient, environment: str, key_prefix: str) -> list[tuple[str, str]]:
    """Which host each kind of call goes to (docs/architecture.md, "Hosts")."""
    return [
        (f"signed calls with {key_prefix}… ({environment})", client.base_urls[environment]),
        ("sign-in, and sandbox keys' management", client.auth_url),
        (f"production keys' management (SIR_LIVE_KEYS_HOST={client.live_keys_host})", client.key_host("production")),
    ]


def run(client: SirClient, credential: Credential, environment: str, token: str | None = None) -> Report:
    """Every read the portal makes, once, fresh from SIR Giving (GETs only)."""
    base_url = client.base_urls[environment]
    results: list[Result] = []
    ids: dict[str, str | None] = {}

    def signed(path: str, params: dict):
        reply = client.signed_call(credential, environment, "GET", path, params=params or None, fresh=True)
        if reply.stale:  # an older copy stands in for a failure: that failure is the answer
            raise reply.error
        return reply.data, reply.status

    for probe in SIGNED_PROBES:
        path = probe.path
        if probe.needs:
            if not ids.get(probe.needs):
                results.append(Result("GET", probe.path, base_url, "key", skipped=f"no {probe.needs} to ask about"))
                continue
            path = probe.path.replace(":id", ids[probe.needs])
        result, payload = _ask(client, probe, base_url, "key", lambda: signed(path, probe.params))
        results.append(result)
        if probe.path in ID_FROM:
            ids[ID_FROM[probe.path]] = _first_id(payload)
    results.append(_error_form(client, base_url, lambda: signed(f"/v1/partner/campaigns/{UNKNOWN_ID}", {})))

    if token:
        for probe in JWT_PROBES:
            for host in (client.key_hosts() if probe.path == "/v1/partner/keys" else [client.auth_url]):
                def jwt(probe=probe, host=host):
                    return client.jwt_call("GET", probe.path, token, params=probe.params or None, base_url=host), 200
                results.append(_ask(client, probe, host, "sign-in", jwt)[0])
    return Report(environment, credential.secret_key[:12], hosts_of(client, environment, credential.secret_key[:12]),
                  results, client.clock_offset(base_url))


def _ask(client: SirClient, probe: Probe, host: str, auth: str, call) -> tuple[Result, Any]:
    result = Result("GET", probe.path, host, auth)
    started = time.perf_counter()
    try:
        payload, result.status = call()
    except errors.SirError as error:
        result.latency_ms = (time.perf_counter() - started) * 1000
        result.status = error.status
        result.clock_offset = client.clock_offset(host)
        if probe.absent_ok and isinstance(error, errors.NotFound):
            result.notes.append("none (404)")
            return result, None
        result.problem = f"{error.title}: {error.message}" + (f" ({error.detail})" if error.detail else "")
        return result, None
    result.latency_ms = (time.perf_counter() - started) * 1000
    result.clock_offset = client.clock_offset(host)
    _read_shape(result, probe, payload)
    return result, payload


def _read_shape(result: Result, probe: Probe, payload: Any) -> None:
    if probe.is_list:
        result.form = ("list: bare" if isinstance(payload, list) else
                       "list: envelope" if isinstance(payload, dict) and "pagination" in payload else
                       "list: data" if isinstance(payload, dict) and isinstance(payload.get("data"), list) else None)
        parse_item = (lambda e: probe.model.parse(e, probe.path)) if probe.model else (lambda e: e)
        try:
            page = models.Page.parse(payload, parse_item, path=probe.path)
        except errors.MalformedReply as error:
            result.missing = error.detail or "the list"
            return
        limit = probe.params.get("limit")
        if limit and len(page.items) > limit:
            result.notes.append(f"ignored limit={limit} ({len(page.items)} items)")
        records = payload if isinstance(payload, list) else payload.get("data") or []
        if probe.model and records and isinstance(records[0], dict):
            result.ignored, result.absent = fields_of(probe.model, records[0])
        return
    result.form = "object"
    if probe.model is None:
        return
    try:
        (probe.parse or probe.model.parse)(payload, probe.path)
    except errors.MalformedReply as error:
        result.missing = error.detail or "the reply"
    if isinstance(payload, dict):
        result.ignored, result.absent = fields_of(probe.model, payload)


def _error_form(client: SirClient, host: str, call) -> Result:
    """How an error is worded: a read of a campaign that cannot exist must be refused."""
    result = Result("GET", "/v1/partner/campaigns/:id (unknown id)", host, "key")
    started = time.perf_counter()
    try:
        call()
        result.problem = "answered 2xx for an id that does not exist"
        result.status = 200
    except errors.SirError as error:
        result.status = error.status
        result.form = "error"
        if error.status in REFUSED_STATUSES:
            result.problem = f"{error.title}: {error.message}"
        # A JSON error body gives the message (and its code); without one the portal reads the status alone.
        result.notes.append("errors carry a code and message" if error.detail else
                            f"errors carry no code: read by HTTP status ({error.status})")
        if error.status != 404 and error.status is not None:
            result.notes.append(f"expected 404, got {error.status}")
    result.latency_ms = (time.perf_counter() - started) * 1000
    result.clock_offset = client.clock_offset(host)
    return result


def _first_id(payload: Any) -> str | None:
    records = payload if isinstance(payload, list) else payload.get("data") if isinstance(payload, dict) else None
    if records and isinstance(records[0], dict) and isinstance(records[0].get("id"), str):
        return records[0]["id"]
    return None


# -- what a reply carries, next to what a model reads ------------------------------------------------------

def _wire_path(name: str, spec) -> tuple[str, ...]:
    alias = spec.validation_alias
    if isinstance(alias, AliasPath):
        return tuple(str(step) for step in alias.path)
    if isinstance(alias, str):
        return (alias,)
    return (spec.alias or name,)


def _item_model(annotation) -> type[BaseModel] | None:
    for arg in get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


_MISSING = object()


def _dig(payload: dict, path: tuple[str, ...]):
    value: Any = payload
    for step in path:
        if not isinstance(value, dict) or value.get(step) is None:
            return _MISSING
        value = value[step]
    return value


def fields_of(model: type[BaseModel], payload: dict, prefix: str = "") -> tuple[list[str], list[str]]:
    """(fields of `payload` that `model` does not read, optional fields of `model` that `payload` lacks), as wire
    names; a list of sub-objects is looked into by its first item (`daily[].date`)."""
    paths = {name: _wire_path(name, spec) for name, spec in model.model_fields.items()}
    known = {path[0] for path in paths.values()} | set(model.model_fields)
    ignored = [prefix + key for key in payload if key not in known]
    absent: list[str] = []
    for name, path in paths.items():
        spec = model.model_fields[name]
        value = _dig(payload, path)
        if value is _MISSING:
            if not spec.is_required():
                absent.append(prefix + ".".join(path))
            continue
        inner = _item_model(spec.annotation)
        if inner is not None and isinstance(value, list) and value and isinstance(value[0], dict):
            more_ignored, more_absent = fields_of(inner, value[0], f"{prefix}{'.'.join(path)}[].")
            ignored += more_ignored
            absent += more_absent
    return ignored, absent
