"""Deterministic identities.

Contributor ids follow Augur's ``GithubUUID`` layout so databases of both can be
compared and merged: byte 0 is the platform, bytes 1-4 the platform user id
(big-endian), the rest zero. Ids that do not fit in 4 bytes (never seen on
github.com or gitlab.com so far) spill into bytes 1-7 and set byte 15 to 1, so
they can never collide with an Augur-layout id.

Accounts live on one server: user 42 of a GitHub Enterprise Server is not user 42 of
github.com. A server other than the platform's public one is named in the namespace
(``"github@ghe.example.com"``, see :func:`identity_namespace`): byte 0 then has the
``_HOSTED`` bit set and bytes 8-14 hold the first bytes of the host's SHA-256, so the same
person on the same server gets the same id on every deployment, and never the id of someone
on another server.

Repos, issues and pull requests get 32-bit surrogate keys from identity columns
in PostgreSQL (8Knot reads them as int); only the processor assigns them.
"""

from __future__ import annotations

import hashlib
import uuid

PLATFORM_CODES: dict[str, int] = {"github": 1, "gitlab": 2, "git": 3}
# The platform's own public server: its accounts keep Augur's layout.
PUBLIC_HOSTS: dict[str, str] = {"github": "github.com", "gitlab": "gitlab.com"}

_HOSTED = 0x10
_WIDE_MARKER = 1
_MAX_NARROW = 2**32 - 1
_MAX_WIDE = 2**56 - 1


def identity_namespace(platform: str, host: str) -> str:
    """Where a repository's accounts live: the platform, or ``platform@host`` for another server."""
    host = host.lower()
    if not host or host == PUBLIC_HOSTS.get(platform) or platform not in PUBLIC_HOSTS:
        return platform
    return f"{platform}@{host}"


def alias_namespace(platform: str, host: str) -> str:
    """Whose accounts a repository's commit emails are matched to: its forge's, and github.com's
    for a plain git repository (most people who commit anywhere have a GitHub account).
    ``data.alias_namespace`` in SQL says the same."""
    return "github" if platform == "git" else identity_namespace(platform, host)


def contributor_id(namespace: str, platform_user_id: int) -> uuid.UUID:
    """The id of user ``platform_user_id`` in ``namespace`` (a platform, or ``platform@host``)."""
    platform, _, host = namespace.partition("@")
    try:
        code = PLATFORM_CODES[platform]
    except KeyError:
        raise ValueError(f"unknown platform {platform!r}") from None
    if platform_user_id < 0:
        raise ValueError(f"platform user id must not be negative: {platform_user_id}")
    if platform_user_id <= _MAX_NARROW:
        raw = bytearray(bytes([code]) + platform_user_id.to_bytes(4, "big") + bytes(11))
    elif platform_user_id <= _MAX_WIDE:
        raw = bytearray(bytes([code]) + platform_user_id.to_bytes(7, "big") + bytes(7) + bytes([_WIDE_MARKER]))
    else:
        raise ValueError(f"platform user id too large for a contributor id: {platform_user_id}")
    if host:
        raw[0] |= _HOSTED
        raw[8:15] = hashlib.sha256(host.lower().encode()).digest()[:7]
    return uuid.UUID(bytes=bytes(raw))


def split_contributor_id(cntrb_id: uuid.UUID) -> tuple[str, int]:
    """The platform and user id of a contributor id; the platform is ``"github@"`` (an
    unnamed server: only a hash of its host is in the id) for another server's account."""
    raw = cntrb_id.bytes
    platform = next((k for k, v in PLATFORM_CODES.items() if v == raw[0] & ~_HOSTED), None)
    if platform is None:
        raise ValueError(f"not a contributor id (unknown platform byte {raw[0]}): {cntrb_id}")
    if raw[0] & _HOSTED:
        platform += "@"
    if raw[15] == _WIDE_MARKER:
        return platform, int.from_bytes(raw[1:8], "big")
    return platform, int.from_bytes(raw[1:5], "big")
