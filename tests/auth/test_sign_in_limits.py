"""Sign-in limits: each address has its own budget of attempts, and failed attempts for one email from all addresses
meet a much higher ceiling, so wrong passwords typed elsewhere do not lock the real admin out. Behind a trusted
proxy the limits key on the client's address."""

from tests.conftest import ACCOUNTS, PASSWORD, form_values, make_app, text_of


def attempt(app, address, email="admin@acme.example", password="wrong", forwarded_for=None):
    """One sign-in from `address` (a fresh browser there), through the real login form."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    data = form_values(client.get("/login", headers=headers), "form#login-form")
    data.update(email=email, password=password)
    return client.post("/login", data=data, headers=headers)


def test_wrong_passwords_from_other_addresses_do_not_lock_the_admin_out(tmp_path):
    app = make_app(tmp_path, {"LOGIN_RATE_LIMIT": "3 per minute"})
    for number in range(1, 7):  # twice the limit, each from an address of its own
        assert attempt(app, f"203.0.113.{number}").status_code == 422
    signed_in = attempt(app, "198.51.100.7", password=PASSWORD)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"


def test_an_address_that_has_not_failed_signs_in_while_a_guessing_one_is_paused(tmp_path):
    app = make_app(tmp_path, {"LOGIN_RATE_LIMIT": "3 per minute"})
    for _ in range(3):
        assert attempt(app, "203.0.113.1").status_code == 422
    refused = attempt(app, "203.0.113.1", password=PASSWORD)
    assert refused.status_code == 429 and "Too many sign-in attempts" in text_of(refused)
    assert attempt(app, "198.51.100.7", password=PASSWORD).status_code == 302


def test_an_address_still_has_its_own_limit_across_emails(tmp_path):
    app = make_app(tmp_path, {"LOGIN_RATE_LIMIT": "3 per minute"})
    for number in range(3):
        assert attempt(app, "203.0.113.1", f"guess{number}@acme.example").status_code == 422
    assert attempt(app, "203.0.113.1", ACCOUNTS["acme"][0], PASSWORD).status_code == 429


def test_a_guesser_with_many_addresses_meets_the_per_email_ceiling(tmp_path):
    app = make_app(tmp_path, {"LOGIN_RATE_LIMIT": "2 per minute"})
    for number in range(20):  # ten times the limit, failures only, from twenty addresses
        assert attempt(app, f"203.0.113.{number + 1}").status_code == 422
    assert attempt(app, "203.0.113.99").status_code == 429
    assert attempt(app, "198.51.100.7", ACCOUNTS["globex"][0], PASSWORD).status_code == 302  # another email


def test_behind_a_trusted_proxy_each_client_has_its_own_sign_in_budget(tmp_path):
    app = make_app(tmp_path, {"LOGIN_RATE_LIMIT": "3 per minute", "TRUSTED_PROXIES": "1"})
    proxy = "10.0.0.2"
    for number in range(3):
        assert attempt(app, proxy, f"guess{number}@acme.example", forwarded_for="203.0.113.1").status_code == 422
    assert attempt(app, proxy, forwarded_for="203.0.113.1").status_code == 429
    signed_in = attempt(app, proxy, password=PASSWORD, forwarded_for="198.51.100.7")
    assert signed_in.status_code == 302


def test_without_trusted_proxies_a_forwarded_for_header_changes_nothing(tmp_path):
    app = make_app(tmp_path, {"LOGIN_RATE_LIMIT": "3 per minute"})
    for number in range(3):
        assert attempt(app, "203.0.113.1", f"guess{number}@acme.example", forwarded_for=f"192.0.2.{number}").status_code == 422
    assert attempt(app, "203.0.113.1", password=PASSWORD, forwarded_for="192.0.2.200").status_code == 429
