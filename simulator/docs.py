"""`/partner-api`: the interactive docs page, and `/partner-api/openapi.json`, built from the route table."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, render_template_string

bp = Blueprint("sim_docs", __name__)

SECURITY = {
    "jwt": [{"bearer": []}],
    "widget": [{"partnerKey": []}],
    "hmac": [{"partnerKey": [], "timestamp": [], "signature": []}],
    "hmac-secret": [{"partnerKey": [], "timestamp": [], "signature": []}],
    "public": [],
}
AUTH_LABELS = {"jwt": "JWT", "widget": "Widget (pk_…)", "hmac": "HMAC", "hmac-secret": "HMAC, secret key", "public": "Email/password"}
ERROR_SCHEMA = {"type": "object", "required": ["statusCode", "code", "message"],
                "properties": {"statusCode": {"type": "integer"}, "code": {"type": "string"},
                               "message": {"type": "string"}, "details": {}}}


def openapi_document() -> dict:
    from .api.routing import ROUTES

    paths: dict = {}
    for entry in ROUTES:
        path = re.sub(r":(\w+)", r"{\1}", entry["path"])
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                      for name in re.findall(r"{(\w+)}", path)]
        parameters += [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                       for name in entry["query"]]
        operation = {
            "summary": entry["summary"], "tags": [entry["tag"]], "parameters": parameters,
            "security": SECURITY[entry["auth"]],
            "x-auth": AUTH_LABELS[entry["auth"]],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        }
        if entry["body"] is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {k: {"description": v} for k, v in entry["body"].items()}}}}}
        paths.setdefault(path, {})[entry["method"].lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "SIR Giving Partner API (local simulator)", "version": "1.0.0",
                 "description": "HMAC-signed calls: X-Signature = HMAC_SHA256_hex(hmacSecret, timestamp + METHOD + "
                                "pathWithQueryString + SHA256_hex(rawBody)); timestamps within 300 s."},
        "servers": [{"url": "https://devapi.sirgiving.org", "description": "Sandbox"},
                    {"url": "https://api.sirgiving.org", "description": "Production"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "partnerKey": {"type": "apiKey", "in": "header", "name": "X-Partner-Key"},
                "timestamp": {"type": "apiKey", "in": "header", "name": "X-Timestamp"},
                "signature": {"type": "apiKey", "in": "header", "name": "X-Signature"},
            },
        },
    }


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SIR Giving Partner API — local simulator</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1f2933}
code{background:#f0f2f5;padding:0 .25rem;border-radius:3px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
.m{font-weight:600;font-family:monospace}</style></head><body>
<h1>SIR Giving Partner API — local simulator</h1>
<p>Every path of the reference, served with the same headers, signature rules and error codes.
Machine-readable: <a href="/partner-api/openapi.json">openapi.json</a>. Operator controls for tests live under
<code>/_sim/</code> and are not part of the API.</p>
{% for tag, entries in groups %}<h2>{{ tag }}</h2><table><thead><tr><th>Method</th><th>Path</th><th>Auth</th><th>Purpose</th></tr></thead><tbody>
{% for e in entries %}<tr><td class="m">{{ e.method }}</td><td><code>{{ e.path }}</code></td><td>{{ labels[e.auth] }}</td><td>{{ e.summary }}</td></tr>{% endfor %}
</tbody></table>{% endfor %}
</body></html>"""


@bp.get("/partner-api")
def docs_page():
    from .api.routing import ROUTES

    groups: dict = {}
    for entry in ROUTES:
        groups.setdefault(entry["tag"], []).append(entry)
    return render_template_string(PAGE, groups=list(groups.items()), labels=AUTH_LABELS)


@bp.get("/partner-api/openapi.json")
def openapi_json():
    return jsonify(openapi_document())
