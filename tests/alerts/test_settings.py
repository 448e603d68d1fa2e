"""The alerts settings page: where alerts go, each channel's test, and a broken channel reported in plain
language on the page while the rest of the portal carries on. Real local servers: aiosmtpd and an HTTP listener."""

from __future__ import annotations

import pytest

from tests.addresses import listener
from tests.alerts.helpers import alert_app, save_settings
from tests.alerts.servers import chat_listener, free_port, smtp_server
from tests.conftest import AuthActions, make_app, page, post_form, text_of


@pytest.fixture
def smtp():
    with smtp_server() as (port, mailbox):
        yield port, mailbox


@pytest.fixture
def app(tmp_path, smtp):
    return alert_app(tmp_path, smtp[0])


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def channel_status(client, channel: str) -> str:
    shown = page(client.get("/alerts/")).select_one(f".channel-status[data-channel={channel}]")
    assert shown is not None, f"no {channel} status on the page"
    return " ".join(shown.get_text(" ").split())


def send_test(client, channel: str):
    form = page(client.get("/alerts/")).select_one(f"#{channel} form")
    response = client.post(form["action"], data={"csrf_token": form.select_one("[name=csrf_token]")["value"]})
    assert response.status_code == 302
    return response


def test_saving_recipients_and_a_chat_webhook_shows_them_without_the_url(signed_in):
    with chat_listener() as (url, _hook):
        assert save_settings(signed_in, chat_url=url).status_code == 302
    shown = signed_in.get("/alerts/")
    form = page(shown).select_one("form#alert-settings")
    assert form.select_one("[name=recipients]").text == "ops@acme.example, oncall@acme.example"
    assert form.select_one("[name=chat_url]")["value"] == ""
    assert "/services/T000" not in shown.get_data(as_text=True)  # the URL's path is the secret: never shown
    assert "Now posting to http://127.0.0.1:" in text_of(shown)


@pytest.mark.parametrize("fields, field, message", [
    ({"recipients": "ops@acme.example, not-an-address"}, "recipients", "Not an e-mail address: not-an-address"),
    ({"chat_url": "hooks.slack.com/services/x"}, "chat_url", "Enter the full incoming-webhook URL"),
    ({"chat_url": "http://hooks.slack.example/services/x"}, "chat_url", "Use https"),
    ({"chat_url": "https://user:pw@hooks.slack.example/x"}, "chat_url", "Leave the user name and password out"),
    ({"failing_after": "0"}, "failing_after", "Enter a number from 1 to 100."),
])
def test_a_wrong_value_is_named_in_place_and_nothing_is_saved(signed_in, fields, field, message):
    refused = save_settings(signed_in, **fields)
    assert refused.status_code == 422
    assert message in page(refused).select_one(f"#{field}-errors").get_text()
    assert page(signed_in.get("/alerts/")).select_one("[name=recipients]").text == ""


def test_a_test_email_arrives_at_the_smtp_server_and_the_page_says_it_works(signed_in, smtp):
    _port, mailbox = smtp
    save_settings(signed_in)
    send_test(signed_in, "email")
    ((sender, recipients, message),) = mailbox.messages
    assert sender == "alerts@portal.acme.example"
    assert recipients == ["ops@acme.example", "oncall@acme.example"]
    assert message["Subject"] == "[Partner Ops] Test alert"
    assert "A test alert from the Partner Ops Portal for Acme" in message.get_content()
    assert channel_status(signed_in, "email").startswith("Working Sent through 127.0.0.1:")


def test_a_test_chat_message_is_posted_as_json_text_and_the_page_says_it_works(signed_in):
    with chat_listener() as (url, hook):
        save_settings(signed_in, chat_url=url)
        send_test(signed_in, "chat")
    (post,) = hook.posts
    assert post["path"] == "/services/T000/B000/secretpath"
    assert post["headers"]["Content-Type"] == "application/json"
    assert list(post["body"]) == ["text"] and "A test alert from the Partner Ops Portal" in post["body"]["text"]
    assert channel_status(signed_in, "chat").startswith("Working Posted to the chat webhook at http://127.0.0.1:")


def test_a_mail_server_that_is_not_there_is_reported_on_the_page_and_nothing_else_breaks(tmp_path):
    app = alert_app(tmp_path, free_port())  # nothing listens there: the connection is refused
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    save_settings(client)
    send_test(client, "email")
    status = channel_status(client, "email")
    assert status.startswith("Not working The mail server at 127.0.0.1:")
    assert "refused the connection: check that it is running and that SMTP_HOST and SMTP_PORT are right" in status
    for path in ("/", "/alerts/", "/token-pools/", "/audit/"):
        assert client.get(path).status_code == 200, path
    audit = text_of(client.get("/audit/?action=alert_test_sent"))
    assert "failure" in audit and "refused the connection" in audit


@pytest.mark.parametrize("status, said", [
    (500, "answered 500 (no_service), not a 2xx. Check the URL your chat tool gave you."),
    (404, "answered 404 (no_service), not a 2xx. The webhook may have been removed or its URL mistyped"),
])
def test_a_chat_webhook_that_answers_an_error_is_reported_on_the_page(signed_in, status, said):
    with chat_listener(status) as (url, hook):
        save_settings(signed_in, chat_url=url)
        send_test(signed_in, "chat")
    assert len(hook.posts) == 1
    shown = channel_status(signed_in, "chat")
    assert shown.startswith("Not working The chat webhook at http://127.0.0.1:") and said in shown
    assert signed_in.get("/").status_code == 200


def test_a_chat_webhook_nobody_answers_at_is_reported_on_the_page(signed_in):
    save_settings(signed_in, chat_url=f"http://127.0.0.1:{free_port()}/services/x")
    send_test(signed_in, "chat")
    assert "could not be reached (the connection was refused, or the host does not resolve)" in channel_status(
        signed_in, "chat")
    assert signed_in.get("/").status_code == 200


def test_with_the_public_policy_a_loopback_chat_url_is_refused_and_nothing_connects(tmp_path, smtp):
    app = make_app(tmp_path, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp[0]), "SMTP_FROM": "a@acme.example",
                              "SMTP_TLS": "none"})  # ALERT_CHAT_TO: public, the default
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    with listener() as (port, accepted):
        save_settings(client, chat_url=f"https://127.0.0.1:{port}/services/x")
        send_test(client, "chat")
        assert not accepted()
    assert ("was not called: 127.0.0.1 is not a public address. Alerts post only to public addresses."
            in channel_status(client, "chat"))


def test_the_chat_url_is_kept_encrypted_on_disk(signed_in, tmp_path):
    with chat_listener() as (url, hook):
        save_settings(signed_in, chat_url=url)
        send_test(signed_in, "chat")
    files = [p for p in (tmp_path / "instance").rglob("*") if p.is_file()]
    assert any(p.name.startswith("portal.sqlite3") for p in files)
    for path in files:
        assert b"secretpath" not in path.read_bytes(), path.name


def test_removing_the_chat_webhook_forgets_its_url(signed_in):
    with chat_listener() as (url, _hook):
        save_settings(signed_in, chat_url=url)
    assert post_form(signed_in, "/alerts/", "form#alert-settings", remove_chat="y").status_code == 302
    shown = signed_in.get("/alerts/")
    assert "Now posting to" not in text_of(shown) and page(shown).select_one("#chat form") is None
    assert "chat webhook removed" in text_of(signed_in.get("/audit/?action=alert_settings_saved"))


def test_the_chat_url_is_re_encrypted_by_vault_rotate_and_still_posts(tmp_path, smtp):
    from cryptography.fernet import Fernet

    old_key = Fernet.generate_key().decode()
    first = alert_app(tmp_path, smtp[0], VAULT_KEY=old_key)
    client = first.test_client()
    AuthActions(client).sign_in("acme")
    with chat_listener() as (url, hook):
        save_settings(client, chat_url=url)
        # The operator puts a new key in front and rotates: the chat URL is one of the values re-encrypted.
        rotated = alert_app(tmp_path, smtp[0], VAULT_KEY=f"{Fernet.generate_key().decode()},{old_key}")
        rotated.extensions["sir_client"] = first.extensions["sir_client"]
        runner = rotated.test_cli_runner()
        assert runner.invoke(args=["vault", "rotate"]).exit_code == 0
        checked = runner.invoke(args=["vault", "check"])
        assert checked.exit_code == 0 and "still encrypted with an older key" not in checked.stdout
        newest_only = alert_app(tmp_path, smtp[0], VAULT_KEY=rotated.config["SETTINGS"].vault_keys[0])
        newest_only.extensions["sir_client"] = first.extensions["sir_client"]
        other = newest_only.test_client()
        AuthActions(other).sign_in("acme")
        send_test(other, "chat")
    assert len(hook.posts) == 1
