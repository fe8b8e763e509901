"""One error taxonomy for every service.

    WatershedError
     ├── SkipError          the item cannot be had and never will (ack, record, move on)
     ├── TransientError     try again later (5xx, timeouts, truncated bodies, connection resets)
     │    └── RateLimitedError   try again at ``retry_at`` (quota spent, secondary limits)
     ├── AuthError          the credentials are refused (401, bad token)
     ├── NotFoundError      the repository is gone (404/410): mark it missing, stop scheduling
     ├── BlockedError       the repository is blocked (451, or 403 with a block body)
     └── FatalError         a bug or an input we cannot handle: dead-letter it, loudly

``ACTIONS`` maps each kind to what a job consumer does with the message.
Unknown exceptions are fatal.
"""

from __future__ import annotations

import enum
from datetime import datetime


class ErrorKind(str, enum.Enum):
    SKIP = "skip"
    TRANSIENT = "transient"
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    BLOCKED = "blocked"
    INVALID = "invalid"
    FATAL = "fatal"


class Action(str, enum.Enum):
    ACK = "ack"  # the job is over (it failed for good, and says so)
    RETRY = "retry"  # nack with a delay; dead-letter after max deliveries
    DEADLETTER = "deadletter"


ACTIONS: dict[ErrorKind, Action] = {
    ErrorKind.SKIP: Action.ACK,
    ErrorKind.TRANSIENT: Action.RETRY,
    ErrorKind.RATE_LIMITED: Action.RETRY,
    ErrorKind.AUTH: Action.RETRY,
    ErrorKind.NOT_FOUND: Action.ACK,
    ErrorKind.BLOCKED: Action.ACK,
    ErrorKind.INVALID: Action.ACK,
    ErrorKind.FATAL: Action.DEADLETTER,
}


class WatershedError(Exception):
    kind: ErrorKind = ErrorKind.FATAL

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class SkipError(WatershedError):
    kind = ErrorKind.SKIP


class TransientError(WatershedError):
    kind = ErrorKind.TRANSIENT


class RateLimitedError(TransientError):
    kind = ErrorKind.RATE_LIMITED

    def __init__(self, message: str, *, retry_at: datetime | None = None, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_at = retry_at


class AuthError(WatershedError):
    kind = ErrorKind.AUTH


class NotFoundError(WatershedError):
    kind = ErrorKind.NOT_FOUND


class BlockedError(WatershedError):
    kind = ErrorKind.BLOCKED


class InvalidInputError(WatershedError):
    """Input that is wrong as given (a malformed URL, a refused remote): say so once, do not retry."""

    kind = ErrorKind.INVALID


class FatalError(WatershedError):
    kind = ErrorKind.FATAL


def classify(exc: BaseException) -> ErrorKind:
    if isinstance(exc, WatershedError):
        return exc.kind
    return ErrorKind.FATAL
