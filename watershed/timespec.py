"""Durations and moments as people type them on a command line (pure)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``6h``, ``1d``, ``2w`` → seconds (more than zero)."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (use seconds, or a number with s, m, h, d or w: 6h, 1d)")
    seconds = float(match[1]) * _UNITS[match[2].lower()]
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a duration: it must be more than zero")
    return seconds


def parse_since(text: str, now: datetime) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise), or a duration ago (``2h``, ``7d``)."""
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a time (2026-11-01, 2026-11-01T12:00:00Z) nor a duration ago (2h, 7d)")\
            from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
