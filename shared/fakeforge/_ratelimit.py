"""GitHub's primary rate limits: a fixed hourly window per token or per client, one per
resource ("core" for REST, "graphql" for GraphQL points), as GitHub keeps them apart."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 3600


@dataclass
class _Window:
    limit: int
    reset: int
    used: int = 0


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: int
    used: int
    resource: str = "core"

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-resource": self.resource,
        }


class RateLimiter:
    def __init__(self, clock: Callable[[], float], window_seconds: int = WINDOW_SECONDS) -> None:
        self._clock = clock
        # GitHub's window is an hour; tests that must see a reset shorten it.
        self.window_seconds = window_seconds
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def _window(self, key: str, limit: int, resource: str) -> _Window:
        now = int(self._clock())
        key = f"{resource}:{key}"
        window = self._windows.get(key)
        if window is None or now >= window.reset:
            window = self._windows[key] = _Window(limit=limit, reset=now + self.window_seconds)
        # A limit changed mid-window applies at once, which is what tests that lower it expect.
        window.limit = limit
        return window

    def quota(self, key: str, limit: int, *, resource: str = "core") -> Quota:
        with self._lock:
            w = self._window(key, limit, resource)
            return Quota(w.limit, max(0, w.limit - w.used), w.reset, min(w.used, w.limit),
                         resource)

    def spend(self, key: str, limit: int, *, cost: int = 1, resource: str = "core") -> Quota:
        """Charge `cost` (GraphQL points; 1 per REST request), capped at the limit."""
        with self._lock:
            w = self._window(key, limit, resource)
            w.used = min(w.used + cost, w.limit)
            return Quota(w.limit, w.limit - w.used, w.reset, w.used, resource)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
