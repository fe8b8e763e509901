"""The pure parts behind the control plane: API settings, the token pool snapshot (labels only)
and how the reports of several collector replicas merge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.events import v1
from shared.forge.ratelimit import TokenPool, token_label
from shared.logging import RedactingFilter
from shared.settings import SettingsError, load_settings
from shared.tokenpools import entry_key, merge_budgets, pool_state

API_TOKEN = "an-api-token-of-enough-length"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_api_settings() -> None:
    settings = load_settings({"WATERSHED_API_TOKENS": f"{API_TOKEN}, second-token-1234567",
                              "WATERSHED_API_CORS_ORIGINS": "https://a.example.org, http://localhost:3000/"})
    assert [t.reveal() for t in settings.api_tokens] == [API_TOKEN, "second-token-1234567"]
    assert repr(settings.api_tokens[0]) == "Secret('***')"
    assert settings.api_cors_origins == ("https://a.example.org", "http://localhost:3000")
    assert API_TOKEN in settings.secrets, "registered for log redaction"
    assert RedactingFilter(settings.secrets).redact(f"Authorization: Bearer {API_TOKEN}") == "Authorization: Bearer ***"
    defaults = load_settings({})
    assert defaults.api_tokens == () and defaults.api_cors_origins == ()
    assert defaults.quota_publish_interval_s == defaults.metrics_poll_interval_s == 15.0


@pytest.mark.parametrize(("name", "value"), [
    ("API_TOKENS", "short"),
    ("API_CORS_ORIGINS", "*"),
    ("API_CORS_ORIGINS", "https://a.example.org/path"),
    ("API_CORS_ORIGINS", "a.example.org"),
    ("QUOTA_PUBLISH_INTERVAL", "0"),
    ("METRICS_POLL_INTERVAL", "nan"),
])
def test_bad_api_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"WATERSHED_{name}") as error:
        load_settings({f"WATERSHED_{name}": value})
    if name == "API_TOKENS":
        assert value not in str(error.value), "a token is never echoed"


def test_snapshot_shows_labels_only() -> None:
    now = [1000.0]
    pool = TokenPool(["ghp_secretA", "ghp_secretB"], clock=lambda: now[0], server="api.example.com")
    pool.update("ghp_secretA", {"x-ratelimit-remaining": "4321", "x-ratelimit-reset": "4600"})
    pool.update("ghp_secretA", {"x-ratelimit-remaining": "99", "x-ratelimit-reset": "4600",
                                "x-ratelimit-resource": "graphql"})
    pool.retire("ghp_secretB")
    state = pool_state(pool.server, "collector-0", pool, T0)
    text = v1.encoder.encode(state).decode()
    assert "ghp_secret" not in text
    budgets = {(b.token, b.bucket): b for b in state.budgets}
    a = token_label("ghp_secretA")
    assert budgets[(a, "core")].remaining == 4321 and budgets[(a, "graphql")].remaining == 99
    assert budgets[(a, "core")].reset_at == datetime.fromtimestamp(4600, timezone.utc)
    assert state.active == 1 and state.retired == 1 and state.server == "api.example.com"
    now[0] = 5000.0  # past the reset: what we knew is stale, and shows as unknown
    assert all(b.remaining is None for b in pool_state(pool.server, "c", pool, T0).budgets)


def test_an_unused_pool_reports_its_tokens_as_unknown() -> None:
    state = pool_state("api.example.com", "c", TokenPool(["ghp_x"]), T0)
    assert [(b.token, b.bucket, b.remaining) for b in state.budgets] == [(token_label("ghp_x"), "core", None)]
    anonymous = pool_state("api.example.com", "c", TokenPool([]), T0)
    assert anonymous.anonymous and anonymous.budgets[0].token == "anonymous"


def test_replicas_merge_to_the_latest_observation() -> None:
    def budget(remaining: int | None, seconds: int | None) -> v1.TokenBudget:
        observed = None if seconds is None else T0 + timedelta(seconds=seconds)
        return v1.TokenBudget(token="tok#aaaa", bucket="core", remaining=remaining, observed_at=observed)

    states = [v1.TokenPoolState(server="s", instance="one", updated_at=T0, budgets=[budget(100, 5)]),
              v1.TokenPoolState(server="s", instance="two", updated_at=T0, budgets=[budget(40, 9)]),
              v1.TokenPoolState(server="s", instance="three", updated_at=T0, budgets=[budget(None, None)])]
    assert [b.remaining for b in merge_budgets(states)["s"]] == [40]


def test_entry_keys_are_valid_kv_keys() -> None:
    assert entry_key("127.0.0.1:8443", "pod-7f9c/1") == "127_0_0_1_8443.pod-7f9c_1"
    assert entry_key("", "x") == "default.x"

