"""The token pool: which token to use for the next request, and how long to wait when none can.

Budgets are kept per (token, bucket) — GitHub meters ``core``, ``graphql`` and ``search``
separately — and fed by the rate-limit headers of every response: GitHub's ``x-ratelimit-*``,
GitLab's ``ratelimit-*`` (:func:`shared.forge.http.rate_header`). The bookkeeping
(:meth:`TokenPool.choose`, :meth:`TokenPool.update`, :meth:`TokenPool.spend`,
:meth:`TokenPool.retire`) is synchronous and takes its time from the injected clock, so it
unit-tests without sleeping; :meth:`TokenPool.acquire` is the only part that waits.

Tokens are never logged or put in messages; :func:`token_label` gives a short stable name.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from shared.errors import AuthError
from shared.forge.http import parse_epoch, rate_header

log = logging.getLogger("watershed.forge.ratelimit")

# Before the first response we know nothing; assume a full hour of core quota so that
# the choice spreads requests evenly until headers arrive.
_UNKNOWN_REMAINING = 5000
# Resets are announced with one-second precision; waiting a little past them avoids a 403 storm.
_RESET_MARGIN = 1.0
# A token marked spent without a reset time (secondary limits) rests this long.
_DEFAULT_REST = 60.0


def token_label(token: str | None) -> str:
    """``tok#ab12``: enough to tell tokens apart in logs and metrics, useless to an attacker."""
    if token is None:
        return "anonymous"
    return "tok#" + hashlib.sha256(token.encode()).hexdigest()[:4]


@dataclass
class Budget:
    remaining: int = _UNKNOWN_REMAINING
    reset_at: float | None = None  # epoch seconds
    observed_at: float | None = None  # when a response last told us; None: remaining is a guess


@dataclass(frozen=True)
class BudgetView:
    """A budget as it may be shown: the token by its label only."""

    token: str
    bucket: str
    remaining: int | None  # None until a response said
    reset_at: float | None
    observed_at: float | None
    active: bool


@dataclass(frozen=True)
class Choice:
    """What :meth:`TokenPool.choose` decided: use ``token`` now, or wait ``wait`` seconds first."""

    token: str | None
    wait: float = 0.0


class TokenPool:
    """Per-token, per-bucket budgets; anonymous (one ``None`` token) when given no tokens."""

    def __init__(
        self,
        tokens: list[str],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_retire: Callable[[str], None] | None = None,
        server: str = "",
    ) -> None:
        """``server`` names the API host in logs: each server meters its own quota, so each
        gets its own pool."""
        unique = list(dict.fromkeys(t.strip() for t in tokens if t and t.strip()))
        self._active: list[str | None] = list(unique) if unique else [None]
        self._anonymous = not unique
        self._budgets: dict[tuple[str | None, str], Budget] = {}
        self.clock = clock
        self.sleep = sleep
        self._on_retire = on_retire
        self.retired = 0
        self._context = {"server": server} if server else {}

    @property
    def server(self) -> str:
        """The API host this pool meters (empty when unnamed)."""
        return self._context.get("server", "")

    @property
    def anonymous(self) -> bool:
        return self._anonymous

    @property
    def secrets(self) -> list[str]:
        """The active tokens, for scrubbing library messages; never log this."""
        return [t for t in self._active if t is not None]

    def __len__(self) -> int:
        return len(self._active)

    def budget(self, token: str | None, bucket: str) -> Budget:
        key = (token, bucket)
        budget = self._budgets.get(key)
        if budget is None:
            budget = self._budgets[key] = Budget()
        elif budget.reset_at is not None and self.clock() >= budget.reset_at:
            budget.remaining, budget.reset_at = _UNKNOWN_REMAINING, None
        return budget

    def choose(self, bucket: str) -> Choice:
        """The active token with the most budget left in ``bucket``, or how long until one resets."""
        if not self._active:
            where = f" of {self._context['server']}" if self._context else ""
            raise AuthError(f"all {self.retired} API tokens{where} were refused (HTTP 401); configure valid tokens")
        best = max(self._active, key=lambda t: self.budget(t, bucket).remaining)
        if self.budget(best, bucket).remaining > 0:
            return Choice(best)
        now = self.clock()
        resets = [self.budget(t, bucket).reset_at for t in self._active]
        known = [r for r in resets if r is not None]
        soonest = min(known) if known else now + _DEFAULT_REST
        owner = self._active[resets.index(soonest)] if known else best
        return Choice(owner, wait=max(soonest - now, 0.0) + _RESET_MARGIN)

    def take(self, token: str | None, bucket: str) -> None:
        """Count one request against the budget before its headers arrive (spreads concurrent tasks)."""
        budget = self.budget(token, bucket)
        budget.remaining = max(budget.remaining - 1, 0)

    def update(self, token: str | None, headers: Mapping[str, str], bucket: str = "core") -> None:
        """Record what the rate-limit headers of a response say about ``token``."""
        if token not in self._active:
            return
        remaining = rate_header(headers, "remaining")
        if remaining is None or not remaining.strip().isdigit():
            return
        budget = self.budget(token, headers.get("x-ratelimit-resource") or bucket)
        budget.remaining = int(remaining)
        budget.reset_at = parse_epoch(rate_header(headers, "reset"))
        budget.observed_at = self.clock()

    def spend(self, token: str | None, bucket: str, reset_at: float | None) -> None:
        """A rate-limit response: ``token`` has nothing left in ``bucket`` until ``reset_at``."""
        if token not in self._active:
            return
        budget = self.budget(token, bucket)
        budget.remaining = 0
        budget.reset_at = reset_at if reset_at is not None else self.clock() + _DEFAULT_REST
        budget.observed_at = self.clock()

    def snapshot(self) -> list[BudgetView]:
        """Every known budget, and every active token not yet heard of (as ``core``), by label.
        A budget whose reset has passed shows as unknown again, as :meth:`budget` treats it."""
        views = []
        now = self.clock()
        seen: set[str | None] = set()
        for (token, bucket), budget in sorted(self._budgets.items(), key=lambda kv: (token_label(kv[0][0]), kv[0][1])):
            seen.add(token)
            known = budget.observed_at is not None and (budget.reset_at is None or now < budget.reset_at)
            views.append(BudgetView(token_label(token), bucket, budget.remaining if known else None,
                                    budget.reset_at if known else None, budget.observed_at,
                                    token in self._active))
        views.extend(BudgetView(token_label(t), "core", None, None, None, True) for t in self._active if t not in seen)
        return views

    def retire(self, token: str | None) -> None:
        """The forge refused ``token`` (401): stop using it, and say so by label only."""
        if token is None or token not in self._active:
            return
        self._active.remove(token)
        self.retired += 1
        label = token_label(token)
        log.warning("forge.token_retired",
                    extra={"fields": {**self._context, "token": label, "active": len(self._active)}})
        if self._on_retire is not None:
            self._on_retire(label)

    async def acquire(self, bucket: str = "core") -> str | None:
        """A token to use now (``None`` when anonymous), waiting until a reset if all are spent.

        The wait is an ordinary ``await``: cancelling the task cancels the wait.
        """
        while True:
            choice = self.choose(bucket)
            if choice.wait <= 0:
                self.take(choice.token, bucket)
                return choice.token
            log.info(
                "forge.rate_limit_wait",
                extra={"fields": {**self._context, "bucket": bucket, "seconds": round(choice.wait, 1),
                                  "token": token_label(choice.token)}},
            )
            await self.sleep(choice.wait)
