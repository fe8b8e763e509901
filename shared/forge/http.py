"""Pure HTTP helpers shared by the forge clients: Link paging, status → error table, backoff.

Nothing here performs I/O or reads the clock: ``now`` and the random source are passed in.
Error messages are built from the caller's ``what`` (e.g. ``github.com/o/r``), the status
and the forge's own short message, never from request headers, so no token can leak into them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import msgspec

from shared.errors import (
    AuthError,
    BlockedError,
    FatalError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    WatershedError,
)

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";]+)"?""", re.IGNORECASE)
_MAX_FORGE_MESSAGE = 160
# Millisecond epochs appear in normalized recordings; real reset headers are in seconds.
_MS_EPOCH = 10**11

# The status table. Statuses needing a look at headers or body (403, 429) are decided in
# error_for_status; everything else is this mapping, then the 4xx/5xx fallbacks below.
STATUS_ERRORS: dict[int, tuple[type[WatershedError], str]] = {
    401: (AuthError, "credentials refused"),
    404: (NotFoundError, "not found"),
    410: (NotFoundError, "gone"),
    451: (BlockedError, "blocked for legal reasons"),
}


class _ForgeBody(msgspec.Struct):
    message: str | None = None
    block: dict[str, object] | None = None


def parse_link_header(value: str | None) -> dict[str, str]:
    """``<url>; rel="next", <url>; rel="last"`` → ``{"next": url, "last": url}``."""
    links: dict[str, str] = {}
    for match in _LINK.finditer(value or ""):
        rel = _REL.search(match[2])
        if rel:
            for name in rel[1].split():
                links.setdefault(name.lower(), match[1].strip())
    return links


def forge_body(body: bytes) -> tuple[str | None, bool]:
    """The forge's own error message (shortened) and whether the body carries a ``block``."""
    try:
        parsed = msgspec.json.decode(body, type=_ForgeBody)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, False
    message = parsed.message
    if message and len(message) > _MAX_FORGE_MESSAGE:
        message = message[:_MAX_FORGE_MESSAGE] + "…"
    return message, parsed.block is not None


def retry_at(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """When a rate-limited request may be tried again: ``retry-after`` first, then the quota reset."""
    after = headers.get("retry-after")
    if after:
        after = after.strip()
        if after.isdigit():
            return now + timedelta(seconds=int(after))
        try:
            when = parsedate_to_datetime(after)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    reset = parse_epoch(rate_header(headers, "reset"))
    return datetime.fromtimestamp(reset, UTC) if reset is not None else None


def rate_header(headers: Mapping[str, str], field: str) -> str | None:
    """A rate-limit header (``remaining``, ``reset``, ``limit``) as GitHub names it
    (``x-ratelimit-…``) or GitLab does (``ratelimit-…``)."""
    return headers.get(f"x-ratelimit-{field}") or headers.get(f"ratelimit-{field}")


def parse_epoch(value: str | None) -> float | None:
    """An epoch header value in seconds (millisecond values are scaled down)."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number / 1000 if number > _MS_EPOCH else number


def is_rate_limited(status: int, headers: Mapping[str, str], message: str | None) -> bool:
    if status == 429:
        return True
    if status != 403:
        return False
    if headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers:
        return True
    # Secondary limits come as a 403 whose only sign is the message (documented wording).
    return bool(message and "rate limit" in message.lower())


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    what: str,
    now: datetime,
    noun: str = "",
) -> WatershedError | None:
    """The taxonomy error for a response, or None when the status is a success.

    ``what`` names the resource for the message (``github.com/o/r``); ``noun`` qualifies
    the reason (``repository`` → "repository not found").
    """
    if status < 400:
        return None
    message, blocked = forge_body(body)
    suffix = f" (HTTP {status})" + (f": {message}" if message else "")
    prefix = f"{what}: {noun} " if noun else f"{what}: "
    if is_rate_limited(status, headers, message):
        when = retry_at(headers, now)
        until = f" until {when.isoformat()}" if when else ""
        return RateLimitedError(f"{prefix}rate limited{until}{suffix}", retry_at=when, status=status)
    if status == 403 and blocked:
        return BlockedError(f"{prefix}access blocked{suffix}", status=status)
    if status in STATUS_ERRORS:
        kind, reason = STATUS_ERRORS[status]
        return kind(f"{prefix}{reason}{suffix}", status=status)
    if status >= 500:
        return TransientError(f"{prefix}server error{suffix}", status=status)
    return FatalError(f"{prefix}request refused{suffix}", status=status)


def backoff_delay(
    attempt: int,
    *,
    base: float = 1.0,
    cap: float = 60.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential, capped, jittered.

    Half the delay is fixed and half random, so retries from many workers spread out
    without any of them retrying immediately.
    """
    ceiling = min(cap, base * (2 ** max(attempt, 0)))
    return ceiling / 2 + rand() * ceiling / 2


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by ``***``: for messages built from library exceptions."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
