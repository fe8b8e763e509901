"""Dead letters, recorded: every message of the DEADLETTER stream becomes a row of
``ops.dead_letters``, whoever put it there.

Two kinds reach the stream: jobs that keep failing (the worker's copy of the job, with its
error and how many deliveries it had) and staged messages the processor could not apply (the
message itself, with the database's error). The stream is the source of truth; the table lets
``watershed dlq`` list, filter and retry them without reading the stream, and follows their
retries and resolution. Recording is idempotent by the dead letter's message id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import asyncpg
import msgspec

from shared.events import v1
from shared.events.jetstream import ATTEMPTS_HEADER, ERROR_HEADER, MSG_ID_HEADER

KIND_JOB = "job"
KIND_MESSAGE = "message"


@dataclass(frozen=True)
class DeadLetter:
    msg_id: str
    subject: str  # the origin subject (without the dlq. prefix)
    kind: str
    error: str
    stream_seq: int
    payload: bytes
    repo_id: int | None = None
    phase: str | None = None
    job_id: str | None = None
    task: str | None = None
    attempts: int | None = None


def describe(subject: str, headers: Mapping[str, str] | None, data: bytes, stream_seq: int) -> DeadLetter:
    """What a dead letter is about, from its subject, headers and payload (pure)."""
    headers = headers or {}
    origin = subject.removeprefix("dlq.")
    parts = origin.split(".")
    attempts = headers.get(ATTEMPTS_HEADER, "")
    letter = DeadLetter(
        msg_id=headers.get(MSG_ID_HEADER) or f"dlq-seq:{stream_seq}", subject=origin, kind=KIND_MESSAGE,
        error=headers.get(ERROR_HEADER) or "unknown error (no Watershed-Error header)", stream_seq=stream_seq,
        payload=data, attempts=int(attempts) if attempts.isdigit() else None,
    )
    if parts[0] == "cmd":
        try:
            job = v1.job_decoder.decode(data)
        except msgspec.DecodeError:
            return replace(letter, kind=KIND_JOB, phase=parts[1] if len(parts) > 1 else None)
        return replace(letter, kind=KIND_JOB, repo_id=job.repo_id or None, phase=job.phase, job_id=job.job_id,
                       task=job.task or None)
    try:
        job_id = getattr(v1.staged_decoder.decode(data), "job_id", None)
    except msgspec.DecodeError:
        job_id = None  # undecodable is why it is here
    return replace(letter, repo_id=int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None, job_id=job_id)

async def record(conn: asyncpg.Connection, letters: Sequence[DeadLetter]) -> int:
    """Insert the dead letters not recorded yet; returns how many were new."""
    new = 0
    for d in letters:
        status = await conn.execute(
            "INSERT INTO ops.dead_letters (subject, msg_id, repo_id, error, payload, stream_seq, kind, phase, job_id,"
            "  task, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (msg_id) WHERE stream_seq IS NOT NULL DO NOTHING",
            d.subject, d.msg_id, d.repo_id, d.error, d.payload, d.stream_seq, d.kind, d.phase, d.job_id,
            d.task, d.attempts,
        )
        new += int(status.rsplit(" ", 1)[1])
    return new
