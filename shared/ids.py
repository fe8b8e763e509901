"""Deterministic identities.

Contributor ids follow Augur's ``GithubUUID`` layout so databases of both can be
compared and merged: byte 0 is the platform, bytes 1-4 the platform user id
(big-endian), the rest zero. Ids that do not fit in 4 bytes (never seen on
github.com or gitlab.com so far) spill into bytes 1-7 and set byte 15 to 1, so
they can never collide with an Augur-layout id.

Repos, issues and pull requests get 32-bit surrogate keys from identity columns
in PostgreSQL (8Knot reads them as int); only the processor assigns them.
"""

from __future__ import annotations

import uuid

PLATFORM_CODES: dict[str, int] = {"github": 1, "gitlab": 2, "git": 3}

_WIDE_MARKER = 1
_MAX_NARROW = 2**32 - 1
_MAX_WIDE = 2**56 - 1


def contributor_id(platform: str, platform_user_id: int) -> uuid.UUID:
    try:
        code = PLATFORM_CODES[platform]
    except KeyError:
        raise ValueError(f"unknown platform {platform!r}") from None
    if platform_user_id < 0:
        raise ValueError(f"platform user id must not be negative: {platform_user_id}")
    if platform_user_id <= _MAX_NARROW:
        raw = bytes([code]) + platform_user_id.to_bytes(4, "big") + bytes(11)
    elif platform_user_id <= _MAX_WIDE:
        raw = bytes([code]) + platform_user_id.to_bytes(7, "big") + bytes(7) + bytes([_WIDE_MARKER])
    else:
        raise ValueError(f"platform user id too large for a contributor id: {platform_user_id}")
    return uuid.UUID(bytes=raw)


def split_contributor_id(cntrb_id: uuid.UUID) -> tuple[str, int]:
    """The inverse of :func:`contributor_id`."""
    raw = cntrb_id.bytes
    platform = next((k for k, v in PLATFORM_CODES.items() if v == raw[0]), None)
    if platform is None:
        raise ValueError(f"not a contributor id (unknown platform byte {raw[0]}): {cntrb_id}")
    if raw[15] == _WIDE_MARKER:
        return platform, int.from_bytes(raw[1:8], "big")
    return platform, int.from_bytes(raw[1:5], "big")
