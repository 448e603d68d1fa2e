"""The Alerts page in a real browser against a served portal: recipients and a chat webhook saved, each channel's
test arriving at a real local SMTP server and HTTP listener, and a broken chat URL reported on the page."""

from __future__ import annotations

import pytest

from tests.alerts.servers import chat_listener, free_port, smtp_server
from tests.browser.conftest import instance_folder, sign_in, start_server, stop_server


@pytest.fixture(scope="module")
def alerts_server(tmp_path_factory):
    with smtp_server() as (port, mailbox), chat_listener() as (url, hook):
        process, base_url, log = start_server(instance_folder(tmp_path_factory), {
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_FROM": "alerts@portal.acme.example",
            "SMTP_TLS": "none", "ALERT_CHAT_TO": "anywhere"})
        try:
            yield base_url, mailbox, url, hook
        finally:
            stop_server(process, log)


def status_of(page, channel: str) -> str:
    return " ".join(page.inner_text(f".channel-status[data-channel={channel}]").split())


def test_an_admin_sets_where_alerts_go_tests_each_channel_and_sees_a_broken_one_named(page, alerts_server):
    base_url, mailbox, chat_url, hook = alerts_server
    sign_in(page, base_url)
    page.click("nav.mainnav a:has-text('Alerts')")
    page.wait_for_selector("form#alert-settings")
    page.fill("#recipients", "ops@acme.example, oncall@acme.example")
    page.fill("#chat_url", chat_url)
    page.click("form#alert-settings button:has-text('Save')")
    page.wait_for_selector("#chat_url-hint:has-text('Now posting to http://127.0.0.1:')")
    assert "secretpath" not in page.content()

    page.click("#email button:has-text('Send a test e-mail')")
    page.wait_for_selector(".channel-status[data-channel=email]")
    assert status_of(page, "email").startswith("Working Sent through 127.0.0.1:")
    assert [recipients for _, recipients, _ in mailbox.messages] == [["ops@acme.example", "oncall@acme.example"]]

    page.click("#chat button:has-text('Send a test message')")
    page.wait_for_selector(".channel-status[data-channel=chat]")
    assert status_of(page, "chat").startswith("Working Posted to the chat webhook")
    assert len(hook.posts) == 1

    # A chat URL where nothing answers: the test says so on the page, and the rest of the portal carries on.
    page.fill("#chat_url", f"http://127.0.0.1:{free_port()}/services/gone")
    page.click("form#alert-settings button:has-text('Save')")
    page.wait_for_selector("#chat button:has-text('Send a test message')")
    page.click("#chat button:has-text('Send a test message')")
    page.wait_for_selector(".channel-status[data-channel=chat]:has-text('Not working')")
    assert "could not be reached" in status_of(page, "chat")
    page.click("nav.mainnav a:has-text('Token pools')")
    page.wait_for_selector("h1")
    assert page.url.endswith("/token-pools/")
