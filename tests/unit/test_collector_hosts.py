"""The collector picks the API, token pool and connections by the job's host; quota is kept per
server; an unconfigured GitHub host is a fatal error naming the setting, never a token.

No broker is connected: ``on_start``/``on_stop`` here open and close only the HTTP clients
(there is no database URL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.collector.app import Collector, create_app
from shared.errors import FatalError
from shared.events import v1
from shared.forge.github.servers import api_host
from shared.settings import load_settings

DOTCOM_TOKEN = "dotcom-token-0001"
GHE_TOKEN = "0123456789abcdef0123456789abcdef01234567"
OTHER_TOKEN = "other-enterprise-token"


def job(host: str, owner: str = "o", name: str = "r") -> v1.Job:
    return v1.Job(job_id="j", repo_id=1, phase="collector", url=f"https://{host}/{owner}/{name}".lower(),
                  platform="github", host=host, owner=owner, name=name)


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    settings = load_settings({
        "WATERSHED_NATS_URL": "nats://127.0.0.1:1",
        "WATERSHED_GITHUB_API_URL": "https://legacy.example.com/api/v3",
        "WATERSHED_GITHUB_TOKENS": DOTCOM_TOKEN,
        "WATERSHED_GITHUB_ENTERPRISE_HOSTS": "ghe.example.com,ghe.example.test=http://127.0.0.1:9/api/v3",
        "WATERSHED_GITHUB_ENTERPRISE_TOKENS": f"ghe.example.com={GHE_TOKEN},ghe.example.test={OTHER_TOKEN}",
    })
    app = create_app(settings)
    await app.on_start()
    try:
        yield app
    finally:
        await app.on_stop()


async def test_each_host_gets_its_api_tokens_and_name(collector: Collector) -> None:
    dotcom, ghe, test = (collector.client_for(job(h)) for h in ("github.com", "GHE.example.com", "ghe.example.test"))
    assert (dotcom.api_url, dotcom.host, dotcom.pool.secrets) == (
        "https://legacy.example.com/api/v3", "github.com", [DOTCOM_TOKEN])
    assert (ghe.api_url, ghe.host, ghe.pool.secrets) == ("https://ghe.example.com/api/v3", "ghe.example.com", [GHE_TOKEN])
    assert (test.api_url, test.host, test.pool.secrets) == ("http://127.0.0.1:9/api/v3", "ghe.example.test",
                                                            [OTHER_TOKEN])
    assert test._what("o", "r") == "ghe.example.test/o/r"


async def test_pools_and_connections_are_per_server_and_kept_across_jobs(collector: Collector) -> None:
    dotcom, ghe = collector.client_for(job("github.com")), collector.client_for(job("ghe.example.com"))
    assert len(collector.github.servers) == 3
    assert dotcom.pool is not ghe.pool and dotcom._http is not ghe._http
    # A new pass on the same host continues with what the last one learned about the quota.
    assert collector.client_for(job("ghe.example.com", "x", "y")).pool is ghe.pool
    # The host of WATERSHED_GITHUB_API_URL is served by that API: the same server, the same pool.
    legacy = collector.client_for(job("legacy.example.com"))
    assert legacy.pool is dotcom.pool and legacy.host == "legacy.example.com"
    # An Enterprise server out of quota makes only its own jobs wait.
    ghe.pool.spend(GHE_TOKEN, "core", ghe.pool.clock() + 3600)
    assert ghe.pool.choose("core").wait > 0 and dotcom.pool.choose("core").wait == 0


async def test_an_unconfigured_github_host_is_fatal(collector: Collector) -> None:
    with pytest.raises(FatalError) as info:
        collector.client_for(job("nowhere.example.com"))
    message = info.value.message
    assert "nowhere.example.com is not a configured GitHub host" in message
    assert "WATERSHED_GITHUB_ENTERPRISE_HOSTS" in message
    assert all(t not in message for t in (DOTCOM_TOKEN, GHE_TOKEN, OTHER_TOKEN))


def test_the_api_host_in_logs_never_carries_credentials() -> None:
    assert api_host("https://user:hunter2pass@Proxy.example.com:8443/api/v3") == "proxy.example.com:8443"
    assert api_host("https://api.github.com") == "api.github.com"


async def test_stop_closes_every_connection_pool() -> None:
    app = create_app(load_settings({"WATERSHED_NATS_URL": "nats://127.0.0.1:1",
                                    "WATERSHED_GITHUB_ENTERPRISE_HOSTS": "ghe.example.com"}))
    await app.on_start()
    clients = [server.http for server in app.github.servers.values()]
    assert len(clients) == 2
    await app.on_stop()
    assert all(c.is_closed for c in clients)
