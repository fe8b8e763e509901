"""The collector's token pools, shared with the API through a JetStream key-value bucket.

The pools live in the collector process (each replica has its own view of the quota); every
``quota_publish_interval_s`` each process puts one entry per API server under
``<server>.<instance>``. Only masked labels (:func:`shared.forge.ratelimit.token_label`)
ever leave the process. Entries expire when a process stops reporting.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime, timezone

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BucketNotFoundError, KeyDeletedError, NoKeysError, NotFoundError
from nats.js.kv import KeyValue

from shared.events import subjects, v1
from shared.forge.ratelimit import TokenPool

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# Entries outlive a few missed reports, not a stopped process.
_TTL_REPORTS = 4
_MIN_TTL_S = 60.0


def instance_name() -> str:
    """This process, among the collector replicas: the pod's host name in Kubernetes."""
    return f"{socket.gethostname()}-{os.getpid()}"


def entry_key(server: str, instance: str) -> str:
    return f"{_KEY_UNSAFE.sub('_', server) or 'default'}.{_KEY_UNSAFE.sub('_', instance)}"


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)


def pool_state(server: str, instance: str, pool: TokenPool, now: datetime) -> v1.TokenPoolState:
    budgets = [v1.TokenBudget(token=b.token, bucket=b.bucket, remaining=b.remaining, reset_at=_moment(b.reset_at),
                              observed_at=_moment(b.observed_at), active=b.active)
               for b in pool.snapshot()]
    return v1.TokenPoolState(server=server, instance=instance, updated_at=now, anonymous=pool.anonymous,
                             active=0 if pool.anonymous else len(pool), retired=pool.retired, budgets=budgets)


async def open_bucket(js: JetStreamContext, publish_interval_s: float) -> KeyValue:
    try:
        return await js.key_value(subjects.TOKEN_POOLS_BUCKET)
    except (BucketNotFoundError, NotFoundError):
        ttl = max(_MIN_TTL_S, publish_interval_s * _TTL_REPORTS)
        return await js.create_key_value(js_api.KeyValueConfig(
            bucket=subjects.TOKEN_POOLS_BUCKET, history=1, ttl=ttl,
            description="token pool quota per collector process (masked labels only)"))


async def publish(kv: KeyValue, state: v1.TokenPoolState) -> None:
    await kv.put(entry_key(state.server, state.instance), v1.encoder.encode(state))


async def read_pools(js: JetStreamContext) -> list[v1.TokenPoolState]:
    """Every reported pool (empty before any collector reported).

    The keys come from the bucket's stream state (its subjects with a message), not from
    ``KeyValue.keys()``: that one watches the bucket and, when a collector puts its report
    during the watch, may end before it saw any entry and claim there is none."""
    stream = f"KV_{subjects.TOKEN_POOLS_BUCKET}"
    prefix = f"$KV.{subjects.TOKEN_POOLS_BUCKET}."
    try:
        kv = await js.key_value(subjects.TOKEN_POOLS_BUCKET)
        info = await js.stream_info(stream, subjects_filter=f"{prefix}>")
    except (BucketNotFoundError, NotFoundError):
        return []
    keys = sorted(subject.removeprefix(prefix) for subject in (info.state.subjects or {}))
    states = []
    for key in keys:
        try:
            entry = await kv.get(key)
        except (NotFoundError, NoKeysError, KeyDeletedError):
            continue  # expired between the listing and the read
        if entry.value:
            states.append(v1.token_pool_decoder.decode(entry.value))
    return sorted(states, key=lambda s: (s.server, s.instance))


def merge_budgets(states: list[v1.TokenPoolState]) -> dict[str, list[v1.TokenBudget]]:
    """Per server, one budget per (token, bucket): the one a process heard of most recently.
    Replicas share the tokens but each sees only its own responses."""
    merged: dict[str, dict[tuple[str, str], v1.TokenBudget]] = {}
    for state in states:
        per_server = merged.setdefault(state.server, {})
        for budget in state.budgets:
            key = (budget.token, budget.bucket)
            known = per_server.get(key)
            if known is None or _newer(budget, known):
                per_server[key] = budget
    return {server: [b for _, b in sorted(items.items())] for server, items in sorted(merged.items())}


def _newer(candidate: v1.TokenBudget, known: v1.TokenBudget) -> bool:
    if candidate.observed_at is None:
        return False
    return known.observed_at is None or candidate.observed_at > known.observed_at
