"""The portal against a simulator that answers differently where the reference leaves it open
(simulator/variant.py): each test here runs once per variant, a focused journey rather than the whole suite.

`variant_client` is the test client of an app whose embedded simulator runs `variant`, signed in as Acme with
the portal's key in the vault, as `signed_in` is for the default simulator.
"""

from __future__ import annotations

import pytest

from tests.conftest import AuthActions, make_app

VARIANTS = {
    "bare-lists": "lists=bare",
    "opaque-errors": "errors=opaque",
    "ignore-query": "ignore-query",
    "extra-fields": "extra-fields",
    "missing-optional": "missing-optional",
    "clock-400s-off": "clock-offset=400",
}


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def variant(request):
    return VARIANTS[request.param]


@pytest.fixture
def app(tmp_path, variant):
    return make_app(tmp_path, simulator_config={"VARIANT": variant})


@pytest.fixture
def variant_client(app):
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    return client
