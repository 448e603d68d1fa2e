"""Section 3's shell recipe (curl + openssl), run word for word against `python -m simulator`."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = r'''
TS=$(date +%s)
PATH_="/v1/partner/users"
BODY=""
BODY_HASH=$(printf '%s' "$BODY" | shasum -a 256 | awk '{print $1}')
SIG=$(printf '%s' "${TS}GET${PATH_}${BODY_HASH}" \
  | openssl dgst -sha256 -hmac "$SIR_HMAC_SECRET" -hex \
  | awk '{print $2}')

curl "$SIR_BASE_URL$PATH_" \
  -H "X-Partner-Key: $SIR_SECRET_KEY" \
  -H "X-Timestamp: $TS" \
  -H "X-Signature: $SIG"
'''

pytestmark = [pytest.mark.skipif(not all(shutil.which(t) for t in ("curl", "openssl", "shasum", "bash")),
                                 reason="needs curl, openssl, shasum and bash"),
              pytest.mark.slow]  # starts the standalone simulator


@pytest.fixture
def standalone():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "simulator", "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/partner-api/openapi.json", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


def post_json(url, body, token=None):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def test_the_reference_recipe_succeeds_with_a_key_created_through_post_keys(standalone):
    token = post_json(standalone + "/v1/partner/auth/login", {"email": "admin@acme.example", "password": "sandbox-demo"})["token"]
    key = post_json(standalone + "/v1/partner/keys", {"name": "Sandbox Integration", "environment": "sandbox",
                                                      "keyType": "secret"}, token)
    env = {**os.environ, "SIR_BASE_URL": standalone, "SIR_SECRET_KEY": key["secretKey"], "SIR_HMAC_SECRET": key["hmacSecret"]}
    result = subprocess.run(["bash", "-c", RECIPE], env=env, capture_output=True, text=True, timeout=30)
    reply = json.loads(result.stdout)
    assert "data" in reply and reply["pagination"]["total"] > 0, result.stdout[:300]
    env["SIR_HMAC_SECRET"] = "0" * 64
    refused = json.loads(subprocess.run(["bash", "-c", RECIPE], env=env, capture_output=True, text=True, timeout=30).stdout)
    assert refused["code"] == "INVALID_SIGNATURE"


# Section 3's recipe with the two things it says matter most: a query string in the signed path, and a body
# whose exact bytes are hashed (and then sent with --data-binary, so curl does not change them).
POST_RECIPE = r'''
TS=$(date +%s)
PATH_="/v1/partner/token-pools/request?source=shell"
BODY="{\"poolId\":\"$POOL_ID\",\"amount\":2500,\"reason\":\"Shell recipe — top-up\"}"
BODY_HASH=$(printf '%s' "$BODY" | shasum -a 256 | awk '{print $1}')
SIG=$(printf '%s' "${TS}POST${PATH_}${BODY_HASH}" \
  | openssl dgst -sha256 -hmac "$SIR_HMAC_SECRET" -hex \
  | awk '{print $2}')

curl -s "$SIR_BASE_URL$PATH_" -X POST --data-binary "$BODY" \
  -H "Content-Type: application/json" \
  -H "X-Partner-Key: $SIR_SECRET_KEY" \
  -H "X-Timestamp: $TS" \
  -H "X-Signature: $SIG"
'''


def test_the_recipe_signs_a_query_string_and_a_body_against_the_real_server(standalone):
    token = post_json(standalone + "/v1/partner/auth/login", {"email": "admin@globex.example", "password": "sandbox-demo"})["token"]
    key = post_json(standalone + "/v1/partner/keys", {"name": "Shell", "environment": "sandbox", "keyType": "secret"}, token)
    env = {**os.environ, "SIR_BASE_URL": standalone, "SIR_SECRET_KEY": key["secretKey"], "SIR_HMAC_SECRET": key["hmacSecret"]}
    listing = RECIPE.replace('PATH_="/v1/partner/users"', 'PATH_="/v1/partner/token-pools?limit=1&page=1"')
    pools = json.loads(subprocess.run(["bash", "-c", listing], env=env, capture_output=True, text=True, timeout=30).stdout)
    assert pools["pagination"]["limit"] == 1 and len(pools["data"]) == 1
    env["POOL_ID"] = pools["data"][0]["id"]
    created = json.loads(subprocess.run(["bash", "-c", POST_RECIPE], env=env, capture_output=True, text=True, timeout=30).stdout)
    assert created["status"] == "pending" and created["amount"] == 2500 and created["reason"] == "Shell recipe — top-up"
