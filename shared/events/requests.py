"""Control requests and their replies (core NATS request/reply, not streamed), and the token
pools' state in their key-value bucket. Part of the v1 contract: ``shared.events.v1`` re-exports
every name here."""

from __future__ import annotations

from datetime import datetime

import msgspec

from shared.events.facts import Part, Struct

# ------------------------------------------------------------------ control (request/reply)


class CollectRequest(Struct, tag="collect_request"):
    """Register repositories and, with ``dispatch``, run every phase for them now."""

    urls: list[str]
    dispatch: bool = True
    group: str = "default"
    full: bool = False  # a full resync: jobs ignore stored cursors and ETags


class CollectTarget(Part):
    input: str
    url: str = ""
    repo_id: int | None = None
    created: bool = False
    jobs: dict[str, str] = {}
    error: str | None = None
    running: list[str] = []  # phases whose job was queued or running already: that job is in ``jobs``


class CollectReply(Struct, tag="collect_reply"):
    targets: list[CollectTarget]
    # When the scheduler took the request: a job of a phase dispatched since then (by the loop,
    # say) may replace the reply's in the status row, and has then ended for the waiter too.
    requested_at: datetime | None = None

# ------------------------------------------------------------------ token pools (key-value, not streamed)


class TokenBudget(Part):
    """What one token has left in one rate-limit bucket. ``token`` is the masked label
    (``tok#ab12``), never the token; ``remaining`` is None until a response said."""

    token: str
    bucket: str
    remaining: int | None = None
    reset_at: datetime | None = None
    observed_at: datetime | None = None
    active: bool = True  # False once the forge refused the token (401)


class TokenPoolState(Struct, tag="token_pool_state"):
    """One collector process's view of one API server's token pool."""

    server: str  # the API's host[:port]
    instance: str  # the collector process that reported it
    updated_at: datetime
    anonymous: bool = False
    active: int = 0
    retired: int = 0
    budgets: list[TokenBudget] = []



class SettingsRequest(Struct, tag="settings_request"):
    """Set queue settings of repositories (``urls``) or of one group (``group``). A field left
    None is kept as it is; ``inherit_*`` clears it (back to the group's, else the global one)."""

    urls: list[str] = []
    group: str = ""
    priority: int | None = None
    recollect_interval_s: float | None = None
    inherit_priority: bool = False
    inherit_interval: bool = False


class SettingsTarget(Part):
    input: str
    url: str = ""
    repo_id: int | None = None
    group: str = ""
    priority: int | None = None
    recollect_interval_s: float | None = None
    error: str | None = None


class SettingsReply(Struct, tag="settings_reply"):
    targets: list[SettingsTarget]


class PrioritizeRequest(Struct, tag="prioritize_request"):
    urls: list[str]


class AddOrgRequest(Struct, tag="add_org_request"):
    """Follow organizations or users; ``group`` (default: the account's name) holds their repositories."""

    urls: list[str]
    group: str = ""


class OrgTarget(Part):
    input: str
    url: str = ""
    account: str = ""
    group: str = ""
    source_id: int | None = None
    created: bool = False
    job_id: str | None = None
    error: str | None = None
    # When the listing job was dispatched: only a job dispatched later may stand in for it.
    dispatched_at: datetime | None = None


class AddOrgReply(Struct, tag="add_org_reply"):
    targets: list[OrgTarget]


class DeadLetterRetryRequest(Struct, tag="dlq_retry_request"):
    ids: list[int] = []
    all: bool = False  # every dead letter not resolved yet


class RetriedLetter(Part):
    dead_letter_id: int
    kind: str = ""  # job | message
    job_id: str | None = None
    subject: str = ""
    error: str | None = None


class DeadLetterRetryReply(Struct, tag="dlq_retry_reply"):
    retried: list[RetriedLetter]


class ReplayRequest(Struct, tag="replay_request"):
    """Re-apply the staged events of ``urls`` (none: every repository) from ``since``."""

    urls: list[str] = []
    since: datetime | None = None


class ReplayTarget(Part):
    input: str
    repo_id: int | None = None
    url: str = ""
    messages: int = 0
    error: str | None = None


class ReplayProgress(Struct, tag="replay_progress"):
    """Sent to the requester's inbox while a replay runs; the last one has ``done``."""

    messages_total: int = 0
    messages_done: int = 0
    repos: list[ReplayTarget] = []
    done: bool = False
    error: str | None = None


collect_request_decoder = msgspec.json.Decoder(CollectRequest)
collect_reply_decoder = msgspec.json.Decoder(CollectReply)
token_pool_decoder = msgspec.json.Decoder(TokenPoolState)
settings_reply_decoder = msgspec.json.Decoder(SettingsReply)
add_org_reply_decoder = msgspec.json.Decoder(AddOrgReply)
dlq_retry_reply_decoder = msgspec.json.Decoder(DeadLetterRetryReply)
replay_request_decoder = msgspec.json.Decoder(ReplayRequest)
replay_progress_decoder = msgspec.json.Decoder(ReplayProgress)
