"""What a dead letter is about, from the DEADLETTER stream's subject, headers and payload."""

from __future__ import annotations

from datetime import datetime, timezone

from services.processor.deadletters import KIND_JOB, KIND_MESSAGE, describe
from shared.events import subjects, v1
from shared.events.jetstream import ATTEMPTS_HEADER, ERROR_HEADER, MSG_ID_HEADER

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def test_a_job_that_kept_failing() -> None:
    job = v1.Job(job_id="collector-7-1", repo_id=7, phase="collector", url="https://github.com/o/r",
                 platform="github", full=True)
    subject = subjects.deadletter_subject(subjects.command_subject("collector", 7))
    letter = describe(subject, {MSG_ID_HEADER: "dlq:collector-7-1", ERROR_HEADER: "transient: 500", ATTEMPTS_HEADER: "5"},
                      v1.encoder.encode(job), 12)
    assert (letter.kind, letter.repo_id, letter.phase, letter.job_id, letter.attempts) == (
        KIND_JOB, 7, "collector", "collector-7-1", 5)
    assert (letter.subject, letter.error, letter.msg_id, letter.stream_seq) == (
        "cmd.collector.7", "transient: 500", "dlq:collector-7-1", 12)
    assert letter.task is None


def test_a_task_job_has_no_repository() -> None:
    job = v1.Job(job_id="account-3-x", repo_id=0, phase="collector", url="https://github.com/o", platform="github",
                 kind=v1.KIND_ACCOUNT, task="account-3", source_id=3)
    letter = describe(subjects.deadletter_subject(subjects.command_subject("collector", "account-3")),
                      {ERROR_HEADER: "fatal: boom"}, v1.encoder.encode(job), 1)
    assert (letter.kind, letter.repo_id, letter.task, letter.attempts) == (KIND_JOB, None, "account-3", None)


def test_a_message_the_processor_could_not_apply() -> None:
    event = v1.IssuesObserved(repo_id=4, job_id="collector-4-9", attempt=2, seq=3, items=[])
    subject = subjects.deadletter_subject(subjects.event_subject("forge", 4, "issues"))
    letter = describe(subject, {ERROR_HEADER: "DataError: bad", ATTEMPTS_HEADER: "1"}, v1.encoder.encode(event), 40)
    assert (letter.kind, letter.repo_id, letter.job_id, letter.phase) == (KIND_MESSAGE, 4, "collector-4-9", None)
    assert letter.msg_id == "dlq-seq:40"  # no id given: the stream position is one


def test_garbage_is_still_recorded() -> None:
    letter = describe("dlq.evt.forge.new.registered", None, b"\xff not json", 5)
    assert (letter.kind, letter.repo_id, letter.job_id) == (KIND_MESSAGE, None, None)
    assert "no Watershed-Error" in letter.error and letter.payload == b"\xff not json"
