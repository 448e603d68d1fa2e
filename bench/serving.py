"""What the throughput and bytes benchmarks share: a portal under gunicorn (from any checkout, so a run can
compare main with a branch), a signed-in cookie, and a bare Flask+Jinja app for comparison."""

from __future__ import annotations

import html.parser
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
# Both the portal and the bare page run with these: one worker (the embedded simulator lives in one process)
# and the threads gunicorn.conf.py sets, read from the same file.
GUNICORN = [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "8"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def start_gunicorn(tree: Path, app: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`app` (`wsgi:app`) from checkout `tree`, with that checkout's gunicorn.conf.py."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SIR_API_URL")}
    instance = tempfile.mkdtemp(prefix="bench-portal-")
    environ.update({"INSTANCE_PATH": instance, "LOGIN_RATE_LIMIT": "1000 per minute",
                    "BIND": f"127.0.0.1:{port}",
                    # the tree first; the repo's own webapp for gunicorn.conf.py's hooks when `tree` is bench/
                    "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(tree), str(ROOT)]))}, **(env or {}))
    log = open(Path(instance) / "server.log", "w")  # the server's own lines, to read when a run fails
    process = subprocess.Popen([*GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), app], cwd=tree, env=environ,
                               stdout=log, stderr=log)
    print(f"serving {tree} ({app}) at 127.0.0.1:{port}; log {log.name}", file=sys.stderr)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + ("/healthz" if app == "wsgi:app" else "/bare?size=10"), process)
    return process, base


class _Forms(html.parser.HTMLParser):
    """Every form's action and its inputs' names and values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"id": attrs.get("id"), "action": attrs.get("action"), "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def _form(html_text: str, form_id: str | None = None, field: str | None = None) -> dict:
    parser = _Forms()
    parser.feed(html_text)
    for form in parser.forms:
        if (form_id and form["id"] == form_id) or (field and field in form["fields"]):
            return form
    raise RuntimeError(f"no form {form_id or field} on the page")


def sign_in(base: str, email: str = "admin@acme.example", password: str = "sandbox-demo") -> requests.Session:
    """A signed-in session (cookie), with the portal key created on the first sign-in."""
    client = requests.Session()
    login = _form(client.get(base + "/login").text, field="email")
    fields = dict(login["fields"], email=email, password=password)
    response = client.post(base + "/login", data=fields)
    response.raise_for_status()
    if "/onboarding" in response.url:
        create = _form(response.text, form_id="create-portal-key")
        client.post(base + create["action"], data=create["fields"]).raise_for_status()
    return client


def stop(processes) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
