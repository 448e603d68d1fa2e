"""A sample partner webhook handler, played by the simulator: `POST /_sim/endpoints/<name>`.

A partner registers `https://<simulator host>/_sim/endpoints/<anything>` as a webhook URL to have an endpoint
that behaves like section 5's Express example: it verifies `X-SIR-Signature` with the secret of the webhook
registered at that URL and refuses a timestamp more than 300 s from the simulator's clock (401), and answers
200 otherwise. An operator control (`set_endpoint_accepts_forged`, `/_sim/partners/<slug>/endpoints`) turns a
partner's handler of one environment into one that accepts anything, as a handler that forgot the check does.

The simulator's own deliveries to such a URL are handed to this app in process (`in_process`): its embedded
hosts (`*.simulator.invalid`) never resolve, and nothing needs a socket to reach itself.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request
from werkzeug.test import Client

from .auth import WINDOW_SECONDS
from .delivery import sign

bp = Blueprint("sim_endpoints", __name__, url_prefix="/_sim/endpoints")
PREFIX = "/_sim/endpoints/"
OWN_SUFFIX = ".simulator.invalid"  # the embedded default's hosts: RFC 6761 names that never leave the process


@bp.post("/<path:name>")
def receive(name):
    sim = current_app.extensions["sir_simulator"]
    with sim.lock:
        hooks = [h for h in sim.webhooks.values() if urlsplit(h.url).path == request.path]
        lax = any((h.partner_id, h.environment) in sim.lax_endpoints for h in hooks)
    if not hooks:
        return jsonify({"received": False, "reason": "no webhook is registered at this URL"}), 404
    if lax:
        return jsonify({"received": True})  # the forgotten check: anything is taken
    timestamp = request.headers.get("X-SIR-Timestamp", "")
    body = request.get_data(cache=True)
    signature = request.headers.get("X-SIR-Signature", "")
    if not any(hmac.compare_digest(sign(h.secret, timestamp, body).encode(), signature.encode()) for h in hooks):
        return jsonify({"received": False, "reason": "bad signature"}), 401
    try:
        age = abs(sim.now() - int(timestamp))
    except ValueError:
        age = WINDOW_SECONDS + 1
    if age > WINDOW_SECONDS:
        return jsonify({"received": False, "reason": "stale timestamp"}), 401
    return jsonify({"received": True})


def in_process(app, deliver):
    """DELIVER that hands URLs of the sample handler on the simulator's own hosts to `app`, the rest to `deliver`."""
    client = Client(app)

    def send(url: str, headers: dict, body: bytes, timeout: float) -> tuple[int, str]:
        parts = urlsplit(url)
        if (parts.hostname or "").endswith(OWN_SUFFIX) and parts.path.startswith(PREFIX):
            response = client.post(parts.path, data=body, headers=headers, base_url=f"{parts.scheme}://{parts.netloc}")
            return response.status_code, response.get_data(as_text=True)[:1000]
        return deliver(url, headers, body, timeout)

    return send
