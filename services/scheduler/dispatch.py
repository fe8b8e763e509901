"""Putting jobs on the COMMANDS work queue, once.

A job's id names what is due (phase, repository, due time), and it is published with that id
as ``Nats-Msg-Id``: JetStream drops a second copy within the stream's duplicate window (an
hour), whichever scheduler replica sends it, however stale the state it read. Only the copy
JetStream accepted is followed by its ``JobDispatched`` fact: a replica that read an old
state and re-sends an old job never makes the processor record that job as queued again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import msgspec
from nats.js import JetStreamContext

from services.scheduler.queue import Repo
from shared.events import subjects, v1
from shared.events.jetstream import MSG_ID_HEADER, Publisher

IN_FLIGHT_PUBLISHES = 32


@dataclass(frozen=True)
class Sent:
    job: v1.Job
    duplicate: bool  # JetStream had it already: dispatched before, by us or another replica


def repo_job(repo: Repo, phase: str, due: datetime, *, full: bool = False, suffix: str = "") -> v1.Job:
    """The job of one phase of a repository, named by what is due."""
    job_id = v1.job_id(phase, repo.repo_id, due) + suffix + ("-full" if full else "")
    return v1.Job(job_id=job_id, repo_id=repo.repo_id, phase=phase, url=repo.url, platform=repo.platform,
                  host=repo.host, owner=repo.owner, name=repo.name, full=full)


class Dispatcher:
    def __init__(self, js: JetStreamContext) -> None:
        self.js = js

    async def send(self, jobs: Iterable[v1.Job]) -> list[Sent]:
        """Publish the jobs (concurrently), then the dispatch facts of those that are new."""
        now = datetime.now(timezone.utc)
        slots = asyncio.Semaphore(IN_FLIGHT_PUBLISHES)

        async def one(job: v1.Job) -> Sent:
            job = msgspec.structs.replace(job, dispatched_at=now)
            async with slots:
                ack = await self.js.publish(subjects.command_subject(job.phase, job.key), v1.encoder.encode(job),
                                            timeout=10.0, stream=subjects.COMMANDS,
                                            headers={MSG_ID_HEADER: job.job_id})
            return Sent(job, bool(ack.duplicate))

        sent = await asyncio.gather(*(one(job) for job in jobs))
        publisher = Publisher(self.js)
        for s in sent:
            if s.duplicate:
                continue
            job = s.job
            await publisher.send(subjects.event_subject(subjects.SOURCE_SCHED, job.key, "dispatched"),
                                 v1.JobDispatched(repo_id=job.repo_id, phase=job.phase, job_id=job.job_id,
                                                  dispatched_at=now, task=job.task))
        await publisher.flush()
        return list(sent)

