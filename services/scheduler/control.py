"""The scheduler's answers to the CLI (core NATS request/reply, one replica per request).

Each request is read against the database (read-only) and becomes decisions: facts on the
STAGING stream that the processor records, and jobs. Nothing here writes a row. Where a
request waits for its fact to be recorded (a registration needs its id) it polls briefly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone

import asyncpg
import msgspec

from services.scheduler.dispatch import Dispatcher, repo_job
from services.scheduler.policy import IN_FLIGHT, is_stuck, phases_for
from services.scheduler.queue import Repo
from shared.errors import WatershedError
from shared.events import subjects, v1
from shared.events.jetstream import MSG_ID_HEADER, Publisher
from shared.settings import Settings

RECORDED_WITHIN_S = 30.0
NOT_RECORDED = "was not recorded in time (is the processor running?)"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Control:
    def __init__(self, settings: Settings, pool: Callable[[], asyncpg.Pool], dispatcher: Callable[[], Dispatcher],
                 publisher: Callable[[], Publisher], wake: Callable[[], None]) -> None:
        self.settings = settings
        self._pool = pool
        self._dispatcher = dispatcher
        self._publisher = publisher
        self._wake = wake

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool()

    async def _wait(self, sql: str, *args: object) -> asyncpg.Record | None:
        """The row the processor records for a fact just published, once it is there."""
        deadline = asyncio.get_running_loop().time() + RECORDED_WITHIN_S
        while asyncio.get_running_loop().time() < deadline:
            row = await self.pool.fetchrow(sql, *args)
            if row is not None:
                return row
            await asyncio.sleep(0.05)
        return None

    async def _publish(self, subject: str, event: v1.Struct) -> None:
        publisher = self._publisher()
        await publisher.send(subject, event)
        await publisher.flush()

    def _repo_ref(self, text: str) -> tuple[str | None, str | None]:
        """(canonical URL, error) of a repository URL as given."""
        try:
            ref = self.settings.repo_ref(text)
        except WatershedError as exc:
            return None, str(exc)
        return ref.url, None

    # ------------------------------------------------------------------ collect

    async def collect(self, request: v1.CollectRequest) -> v1.CollectReply:
        """Register the repositories and (with ``dispatch``) run every phase for them now, except
        a phase whose job is queued or running already: that job is the answer."""
        requested_at = _now()
        targets: list[v1.CollectTarget] = []
        for text in request.urls:
            try:
                ref = self.settings.repo_ref(text)
            except WatershedError as exc:
                targets.append(v1.CollectTarget(input=text, error=str(exc)))
                continue
            repo = await self.pool.fetchrow("SELECT * FROM data.repos WHERE url = $1", ref.url)
            created = repo is None
            if repo is None:
                await self._publish(
                    subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_REPO_KEY, "registered"),
                    v1.RepoRegistered(url=ref.url, platform=ref.platform, host=ref.host, owner=ref.owner,
                                      name=ref.name, group=request.group or "default", registered_at=_now()))
                repo = await self._wait("SELECT * FROM data.repos WHERE url = $1", ref.url)
            if repo is None:
                targets.append(v1.CollectTarget(input=text, url=ref.url, error=f"registration {NOT_RECORDED}"))
                continue
            jobs: dict[str, str] = {}
            running: list[str] = []
            if request.dispatch:
                jobs, running = await self._collect_now(repo, created, request.full)
            targets.append(v1.CollectTarget(input=text, url=ref.url, repo_id=repo["repo_id"], created=created,
                                            jobs=jobs, running=running))
        if not request.dispatch:
            self._wake()
        return v1.CollectReply(targets=targets, requested_at=requested_at)

    async def _collect_now(self, repo: asyncpg.Record, created: bool, full: bool) -> tuple[dict[str, str], list[str]]:
        now = _now()
        running = {r["phase"]: r for r in await self.pool.fetch(
            "SELECT phase, job_id, state, updated_at FROM ops.collection_status WHERE repo_id = $1", repo["repo_id"])}
        jobs: dict[str, str] = {}
        busy: list[str] = []
        todo = []
        for phase in phases_for(repo["platform"]):
            current = running.get(phase)
            if current is not None and current["state"] in IN_FLIGHT and not is_stuck(
                    current["state"], current["updated_at"], now, self.settings.job_stuck_timeout_s):
                jobs[phase] = current["job_id"]  # never two jobs of one phase at once
                busy.append(phase)
                continue
            # A repository registered just now is also dispatched by the loop (woken by its
            # registration), as due at registered_at; the same due time names the same job,
            # so the two dispatches are one job and not two racing ones.
            todo.append(repo_job(Repo.of(repo), phase, repo["registered_at"] if created else now, full=full))
        for sent in await self._dispatcher().send(todo):
            jobs[sent.job.phase] = sent.job.job_id
        return jobs, busy

    # ------------------------------------------------------------------ settings, priority

    async def settings_change(self, request: v1.SettingsRequest) -> v1.SettingsReply:
        if request.group:
            return v1.SettingsReply(targets=[await self._group_settings(request)])
        targets = []
        for text in request.urls:
            url, error = self._repo_ref(text)
            repo = await self.pool.fetchrow(
                "SELECT r.repo_id, g.name AS group_name, rs.priority, rs.recollect_interval_s"
                " FROM data.repos r JOIN data.repo_groups g USING (repo_group_id)"
                " LEFT JOIN ops.repo_settings rs USING (repo_id) WHERE r.url = $1", url) if url else None
            if repo is None:
                targets.append(v1.SettingsTarget(input=text, url=url or "",
                                                 error=error or "not registered (add it with `watershed add-repo`)"))
                continue
            priority, interval = _merged(request, repo["priority"], repo["recollect_interval_s"])
            await self._publish(subjects.event_subject(subjects.SOURCE_CONTROL, repo["repo_id"], "settings"),
                                v1.RepoSettingsChanged(repo_id=repo["repo_id"], changed_at=_now(), priority=priority,
                                                       recollect_interval_s=interval))
            targets.append(v1.SettingsTarget(input=text, url=url or "", repo_id=repo["repo_id"],
                                             group=repo["group_name"], priority=priority,
                                             recollect_interval_s=interval))
        self._wake()
        return v1.SettingsReply(targets=targets)

    async def _group_settings(self, request: v1.SettingsRequest) -> v1.SettingsTarget:
        group = await self.pool.fetchrow(
            "SELECT g.repo_group_id, gs.priority, gs.recollect_interval_s FROM data.repo_groups g"
            " LEFT JOIN ops.group_settings gs USING (repo_group_id) WHERE g.name = $1", request.group)
        if group is None:
            return v1.SettingsTarget(input=request.group, group=request.group, error="no such group")
        priority, interval = _merged(request, group["priority"], group["recollect_interval_s"])
        await self._publish(subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_GROUP_KEY, "settings"),
                            v1.GroupSettingsChanged(group=request.group, changed_at=_now(), priority=priority,
                                                    recollect_interval_s=interval))
        self._wake()
        return v1.SettingsTarget(input=request.group, group=request.group, priority=priority,
                                 recollect_interval_s=interval)

    async def prioritize(self, request: v1.PrioritizeRequest) -> v1.CollectReply:
        """Move repositories to the front of the queue; the loop dispatches them on its next tick."""
        targets = []
        for text in request.urls:
            url, error = self._repo_ref(text)
            repo = await self.pool.fetchrow("SELECT repo_id, platform, state FROM data.repos WHERE url = $1",
                                            url) if url else None
            if repo is None or repo["state"] != "active":
                why = error or ("not registered (add it with `watershed add-repo`)" if repo is None else
                                f"the repository is {repo['state']}; `watershed collect` asks for it again")
                targets.append(v1.CollectTarget(input=text, url=url or "", error=why))
                continue
            at = _now()
            await self._publish(subjects.event_subject(subjects.SOURCE_CONTROL, repo["repo_id"], "prioritized"),
                                v1.RepoPrioritized(repo_id=repo["repo_id"], phases=list(phases_for(repo["platform"])),
                                                   at=at))
            targets.append(v1.CollectTarget(input=text, url=url or "", repo_id=repo["repo_id"]))
        # Wake the loop once the processor has the entries at the front (or running already).
        ids = [t.repo_id for t in targets if t.repo_id is not None]
        if ids:
            await self._wait("SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM data.repos r WHERE r.repo_id = ANY($1::int[])"
                             " AND NOT EXISTS (SELECT 1 FROM ops.collection_status s WHERE s.repo_id = r.repo_id"
                             " AND (s.urgent OR s.state IN ('queued', 'collecting', 'retrying'))))", ids)
        self._wake()
        return v1.CollectReply(targets=targets)

    # ------------------------------------------------------------------ organizations

    async def add_org(self, request: v1.AddOrgRequest) -> v1.AddOrgReply:
        targets = []
        for text in request.urls:
            try:
                ref = self.settings.account_ref(text)
            except WatershedError as exc:
                targets.append(v1.OrgTarget(input=text, error=str(exc)))
                continue
            group = request.group or ref.account.lower()
            source = await self.pool.fetchrow(
                "SELECT s.source_id, g.name AS group_name FROM ops.group_sources s JOIN data.repo_groups g"
                " USING (repo_group_id) WHERE s.url = $1", ref.url)
            created = source is None
            if source is None:
                await self._publish(
                    subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_GROUP_KEY, "source"),
                    v1.GroupSourceAdded(group=group, platform=ref.platform, host=ref.host, account=ref.account,
                                        url=ref.url, added_at=_now()))
                source = await self._wait(
                    "SELECT s.source_id, g.name AS group_name FROM ops.group_sources s JOIN data.repo_groups g"
                    " USING (repo_group_id) WHERE s.url = $1", ref.url)
            if source is None:
                targets.append(v1.OrgTarget(input=text, url=ref.url, account=ref.account, error=f"the source {NOT_RECORDED}"))
                continue
            job, dispatched_at = await self._list_account(source["source_id"],
                                                          suffix=f"add-{int(_now().timestamp() * 1000)}")
            targets.append(v1.OrgTarget(input=text, url=ref.url, account=ref.account, group=source["group_name"],
                                        source_id=source["source_id"], created=created, job_id=job,
                                        dispatched_at=dispatched_at))
        return v1.AddOrgReply(targets=targets)

    async def list_account(self, source_id: int, *, suffix: str) -> str | None:
        """Dispatch the listing of a source unless one is queued or running; returns its job id."""
        return (await self._list_account(source_id, suffix=suffix))[0]

    async def _list_account(self, source_id: int, *, suffix: str) -> tuple[str | None, datetime | None]:
        """The listing's job id and when it was dispatched (it may be one queued or running already)."""
        source = await self.pool.fetchrow(
            "SELECT s.*, t.state, t.job_id, t.updated_at, t.dispatched_at FROM ops.group_sources s"
            " LEFT JOIN ops.task_status t ON t.task = $2 WHERE s.source_id = $1",
            source_id, subjects.task_key(v1.KIND_ACCOUNT, source_id))
        if source is None:
            return None, None
        if source["state"] in IN_FLIGHT and not is_stuck(source["state"], source["updated_at"], _now(),
                                                          self.settings.job_stuck_timeout_s):
            return str(source["job_id"]), source["dispatched_at"]
        task = subjects.task_key(v1.KIND_ACCOUNT, source_id)
        job = v1.Job(job_id=f"{task}-{suffix}", repo_id=0, phase=subjects.PHASE_COLLECTOR, url=source["url"],
                     platform=source["platform"], host=source["host"], owner=source["account"],
                     kind=v1.KIND_ACCOUNT, task=task, source_id=source_id)
        (sent,) = await self._dispatcher().send([job])
        return sent.job.job_id, sent.job.dispatched_at

    # ------------------------------------------------------------------ dead letters

    async def retry_dead_letters(self, request: v1.DeadLetterRetryRequest) -> v1.DeadLetterRetryReply:
        if request.all:
            rows = await self.pool.fetch("SELECT * FROM ops.dead_letters WHERE resolved_at IS NULL"
                                         " AND retried_at IS NULL ORDER BY dead_letter_id")
        else:
            rows = await self.pool.fetch("SELECT * FROM ops.dead_letters WHERE dead_letter_id = ANY($1::bigint[])"
                                         " ORDER BY dead_letter_id", request.ids)
        found = {r["dead_letter_id"] for r in rows}
        retried = [v1.RetriedLetter(dead_letter_id=i, error="no such dead letter") for i in request.ids
                   if i not in found]
        for row in rows:
            retried.append(await self._retry_one(row))
        return v1.DeadLetterRetryReply(retried=sorted(retried, key=lambda r: r.dead_letter_id))

    async def _retry_one(self, row: asyncpg.Record) -> v1.RetriedLetter:
        letter = v1.RetriedLetter(dead_letter_id=row["dead_letter_id"], kind=row["kind"] or "message",
                                  subject=row["subject"])
        now = _now()
        if row["kind"] == "job":
            try:
                old = v1.job_decoder.decode(row["payload"])
            except msgspec.DecodeError as exc:
                return msgspec.structs.replace(letter, error=f"the dead letter holds no job: {exc}")
            job_id = await self._redispatch(old, now)
            if job_id is None:
                return msgspec.structs.replace(letter, error="its repository or source is gone")
        else:
            # A message the processor could not apply goes back to it, as a new message (under a
            # new id: the stream remembers the first one).
            job_id = None
            await self._dispatcher().js.publish(
                row["subject"], bytes(row["payload"] or b""), stream=subjects.STAGING, timeout=10.0,
                headers={MSG_ID_HEADER: f"retry:{row['dead_letter_id']}:{int(now.timestamp() * 1000)}"})
        await self._publish(subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_OPS_KEY, "retried"),
                            v1.DeadLetterRetried(dead_letter_id=row["dead_letter_id"], retried_at=now, job_id=job_id))
        return msgspec.structs.replace(letter, job_id=job_id)

    async def _redispatch(self, old: v1.Job, now: datetime) -> str | None:
        if old.kind == v1.KIND_ACCOUNT and old.source_id is not None:
            return await self.list_account(old.source_id, suffix=f"retry-{int(now.timestamp() * 1000)}")
        if old.kind != v1.KIND_REPO:
            job = msgspec.structs.replace(old, job_id=f"{old.task}-retry-{int(now.timestamp() * 1000)}")
            (sent,) = await self._dispatcher().send([job])
            return sent.job.job_id
        repo = await self.pool.fetchrow("SELECT * FROM data.repos WHERE repo_id = $1", old.repo_id)
        if repo is None:
            return None
        status = await self.pool.fetchrow("SELECT job_id, state, updated_at FROM ops.collection_status"
                                          " WHERE repo_id = $1 AND phase = $2", old.repo_id, old.phase)
        if status is not None and status["state"] in IN_FLIGHT and not is_stuck(
                status["state"], status["updated_at"], now, self.settings.job_stuck_timeout_s):
            return str(status["job_id"])
        (sent,) = await self._dispatcher().send([repo_job(Repo.of(repo), old.phase, now, full=old.full,
                                                          suffix="-retry")])
        return sent.job.job_id


def _merged(request: v1.SettingsRequest, priority: int | None, interval: float | None) -> tuple[int | None, float | None]:
    """The settings after the request: what it sets, what it clears, the rest as it was."""
    if request.inherit_priority:
        priority = None
    elif request.priority is not None:
        priority = request.priority
    if request.inherit_interval:
        interval = None
    elif request.recollect_interval_s is not None:
        interval = request.recollect_interval_s
    return priority, interval

