"""A warm overview: cards whose answers are fresh in the HTTP cache are read in the request itself (a look-up),
and only the others go to the worker pool, in the same round."""

from tests.conftest import page, partner_api_for
from tests.dashboard.test_streaming import CARD_IDS, served

import webapp.parallel


class CountedWorkers:
    """The worker pool's executor, counting what is handed to it."""

    def __init__(self, executor):
        self.executor, self.handed = executor, 0

    def submit(self, *args, **kwargs):
        self.handed += 1
        return self.executor.submit(*args, **kwargs)


def count_handoffs(monkeypatch) -> CountedWorkers:
    counted = CountedWorkers(webapp.parallel.POOL._executor)
    monkeypatch.setattr(webapp.parallel.POOL, "_executor", counted)
    return counted


def filled_cards(response) -> dict[str, str]:
    shown = page(response)
    return {section["id"].removeprefix("card-"): section.get_text(" ", strip=True)
            for section in shown.select("section[data-card][slot]")}


def test_a_warm_overview_reads_every_card_from_the_cache_without_a_worker(app, signed_in, simulator, monkeypatch):
    first = filled_cards(signed_in.get("/"))  # warms the cache; the key banner's list is remembered too
    workers = count_handoffs(monkeypatch)
    asked = {path: served(simulator, path) for path in ("/v1/partner/dashboard/summary", "/v1/partner/token-pools")}
    response = signed_in.get("/")
    assert response.status_code == 200
    cards = filled_cards(response)
    assert sorted(cards) == sorted(CARD_IDS)
    assert not page(response).select("section[data-card] .error-state, section[data-card].is-loading")
    assert cards["summary"] == first["summary"] and "Holiday promotions" in cards["runway"]
    assert "Holiday promotions" in page(response).select_one(".overview-banners").get_text()  # the pool banner
    assert {path: served(simulator, path) for path in asked} == asked  # nothing asked of SIR Giving
    assert workers.handed == 0


def test_a_card_whose_answer_is_no_longer_cached_is_asked_in_the_same_view(app, client, signed_in, simulator):
    signed_in.get("/")
    partner_api = partner_api_for(app, client)
    partner_api.client.invalidate(partner_api.credential, "token-pools")  # as a top-up request does
    pools, summary = served(simulator, "/v1/partner/token-pools"), served(simulator, "/v1/partner/dashboard/summary")
    response = signed_in.get("/")
    cards = filled_cards(response)
    assert sorted(cards) == sorted(CARD_IDS)
    assert "Holiday promotions" in cards["runway"]
    assert served(simulator, "/v1/partner/token-pools") == pools + 1  # once, for the runway and the banner
    assert served(simulator, "/v1/partner/dashboard/summary") == summary  # still cached


def test_without_a_cache_every_card_goes_to_the_workers(tmp_path, monkeypatch):
    from tests.conftest import AuthActions, make_app

    app = make_app(tmp_path, environ={"SIR_CACHE_TTL": "0"})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    client.get("/")
    workers = count_handoffs(monkeypatch)
    assert sorted(filled_cards(client.get("/"))) == sorted(CARD_IDS)
    assert workers.handed >= len(CARD_IDS)  # no look-up first: there is nothing to look up


def test_a_cache_store_that_times_out_costs_the_look_up_not_the_pages_banners(app, signed_in, monkeypatch, caplog):
    from redis.exceptions import RedisError, TimeoutError as RedisTimeout

    from webapp.outages import OUTAGE_LOG, note

    signed_in.get("/")
    generations = app.extensions["sir_client"]._generations

    class TimingOut(dict):
        def __getitem__(self, key):
            raise RedisTimeout("Timeout reading from 127.0.0.1:6379")

    # As the Redis-backed cache is built: its errors are told to outages.note (webapp/__init__.py).
    monkeypatch.setattr(generations, "store", TimingOut())
    monkeypatch.setattr(generations, "tolerated", (RedisError,))
    monkeypatch.setattr(generations, "on_error", note)
    OUTAGE_LOG.reset()
    workers = count_handoffs(monkeypatch)
    response = signed_in.get("/")
    assert response.status_code == 200
    assert sorted(filled_cards(response)) == sorted(CARD_IDS)
    banners = page(response).select_one(".overview-banners").get_text(" ", strip=True)
    assert "Holiday promotions" in banners and "could not be checked" not in banners
    assert workers.handed >= len(CARD_IDS)  # after the first look-up that timed out, straight to the workers
    assert any("Redis is unreachable" in r.getMessage() for r in caplog.records)  # the operator still hears of it


def test_a_cold_overview_reads_nothing_from_the_cache_before_its_calls_leave(tmp_path, monkeypatch):
    """Nothing was stored fresh in this process: the request's own look-ups could only miss, so none is made, and
    each worker looks once before asking SIR Giving (an answer another process stored would be found there)."""
    import threading

    from tests.conftest import AuthActions, make_app
    from tests.sir.test_cache import count_store_reads

    app = make_app(tmp_path)
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    reads = count_store_reads(app, monkeypatch)
    response = client.get("/")
    cards = filled_cards(response)
    assert sorted(cards) == sorted(CARD_IDS)
    assert not page(response).select("section[data-card] .error-state, section[data-card].is-loading")
    assert reads.threads and threading.current_thread().name not in reads.threads
    warm = count_handoffs(monkeypatch)
    assert filled_cards(client.get("/")) == cards
    assert warm.handed == 0  # what this view stored, the next one reads in the request


def test_a_partner_between_campaigns_is_not_asked_which_campaign_runs_on_every_view(app, client, signed_in, simulator,
                                                                                     monkeypatch):
    """SIR Giving's 404 for /campaigns/active is an answer ("none is running"), kept like one: a warm overview of a
    partner between campaigns reads it from the cache with every other card, and news of the family clears it."""
    partner_api = partner_api_for(app, client)
    running = partner_api.active_campaign().value
    acme = next(p for p in simulator.partners.values() if p.name.startswith("Acme"))
    simulator.update_campaign(acme.id, "sandbox", running.id, {"status": "paused"})
    partner_api.client.invalidate(partner_api.credential, "campaigns")  # as the campaign.paused webhook does
    signed_in.get("/")  # asks, and keeps the 404 with the answers
    asked = served(simulator, "/v1/partner/campaigns/active")
    workers = count_handoffs(monkeypatch)
    response = signed_in.get("/")
    assert "No campaign is running" in filled_cards(response)["campaign"]
    assert served(simulator, "/v1/partner/campaigns/active") == asked and workers.handed == 0
    simulator.update_campaign(acme.id, "sandbox", running.id, {"status": "active"})
    partner_api.client.invalidate(partner_api.credential, "campaigns")  # campaign.activated
    assert running.name in filled_cards(signed_in.get("/"))["campaign"]
    assert served(simulator, "/v1/partner/campaigns/active") == asked + 1


def test_a_campaign_started_since_none_was_kept_is_seen_by_a_refresh_and_by_a_preflight(app, client, signed_in,
                                                                                         simulator):
    from tests.conftest import text_of

    partner_api = partner_api_for(app, client)
    running = partner_api.active_campaign().value
    acme = next(p for p in simulator.partners.values() if p.name.startswith("Acme"))
    simulator.update_campaign(acme.id, "sandbox", running.id, {"status": "paused"})
    partner_api.client.invalidate(partner_api.credential, "campaigns")
    signed_in.get("/")  # keeps "no campaign is running"
    simulator.update_campaign(acme.id, "sandbox", running.id, {"status": "active"})  # and no webhook says so
    assert running.name not in text_of(signed_in.get("/token-pools/"))  # the kept answer, within its minute
    assert running.name in text_of(signed_in.get("/token-pools/?refresh=1"))
    preflight = text_of(signed_in.get("/batches/preflight?actions=10&tokens=10"))
    assert running.name in preflight
