"""The wire contract: v1 codecs and ids, subjects vs streams, batching, lenient decoding."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any, get_args

import msgspec
import pytest

from shared.events import subjects, v1
from shared.events.jetstream import chunk_by_size
from shared.forge.decode import decode_lenient

T0 = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=timezone.utc)
ALICE = v1.User(platform_id=7, login="alice", name="Alice", email="a@example.org", created_at=T0)
BOB = v1.User(platform_id=8, login="bob", kind="Bot")
BUG = v1.Label(name="bug", platform_id=3, color="ff0000", description="broken")


def _staged_samples() -> list[Any]:
    job = {"repo_id": 5, "job_id": "collector-5-1", "attempt": 2, "seq": 3}
    return [
        v1.RepoObserved(**job, repo=v1.RepoMeta(platform_id=1, owner="o", name="r", stars=3, created_at=T0, owner_user=ALICE)),
        v1.IssuesObserved(**job, items=[v1.Issue(platform_id=10, number=1, title="t", state="open", body="b\U0001f600",
                                                 author=ALICE, assignees=[BOB], labels=[BUG], updated_at=T0)]),
        v1.PullRequestsObserved(**job, items=[v1.PullRequest(platform_id=11, number=2, title="p", state="closed",
                                                             draft=True, requested_reviewers=[BOB], merged_at=T0)]),
        v1.CommentsObserved(**job, items=[v1.Comment(platform_id=12, parent_number=1, body="hi", author=BOB)]),
        v1.CommitsObserved(**job, items=[v1.Commit(sha="a" * 40, parents=["b" * 40], author_date=T0.astimezone(
            timezone(timedelta(hours=-7))), files=[v1.FileChange(path="x", old_path="y", added=1, deleted=None)])]),
        v1.ReviewsObserved(**job, items=[v1.Review(platform_id=20, pr_number=2, state="APPROVED", author=BOB,
                                                   submitted_at=T0, commit_sha="c" * 40)]),
        v1.ReviewCommentsObserved(**job, items=[v1.ReviewComment(platform_id=21, pr_number=2, review_id=20,
                                                                 path="a.py", line=3, body="nit", created_at=T0)]),
        v1.PrCommitsObserved(**job, items=[v1.PrCommit(pr_number=2, sha="d" * 40, author=ALICE, author_date=T0)]),
        v1.PrFilesObserved(**job, items=[v1.PrFile(pr_number=2, path="b.py", previous_path="a.py",
                                                   status="renamed", additions=1, deletions=0)]),
        v1.PullRequestDetailsObserved(**job, items=[v1.PullRequestDetail(
            number=2, merged_by=ALICE, merge_state="CLEAN", requested_teams=[v1.Team(platform_id=7, slug="core")])]),
        v1.IssueEventsObserved(**job, items=[v1.IssueEvent(platform_id=30, issue_number=1, event="renamed",
                                                           actor=ALICE, rename_from="a", rename_to="b")]),
        v1.ReleasesObserved(**job, items=[v1.Release(platform_id=40, tag_name="v1", author=BOB, published_at=T0)]),
        v1.RepoInfoObserved(**job, info=v1.RepoInfo(stars=3, has_readme=True, commit_count=10), observed_at=T0),
        v1.ContributorsObserved(**job, items=[v1.Contribution(user=ALICE, contributions=7)]),
        v1.CloneTrafficObserved(**job, items=[v1.CloneDay(day=T0, count=3, uniques=2)]),
        v1.OrgMembersObserved(**job, org="o", items=[ALICE, BOB]),
        v1.CursorObserved(**job, stream="issues", value="2024-01-01T00:00:00Z", etag='W/"abc"'),
        v1.AliasesObserved(**job, items=[v1.Alias(email="ada@example.org", namespace="github", user=ALICE,
                                                  source="commit_lookup", checked_at=T0),
                                         v1.Alias(email="zoe@example.com", namespace="github@ghe.example.com",
                                                  user=None, source="none", checked_at=T0)]),
        v1.CommitsRetracted(**job, shas=["e" * 40, "f" * 40]),
        v1.CloneObserved(**job, state="ok", observed_at=T0, default_branch="main", head_sha="a" * 40, branches=3,
                         tracked=1, disk_bytes=123_456),
        v1.JobFinished(**job, phase="collector", messages=3, requests=9, error="boom", error_kind="transient",
                       started_at=T0, finished_at=T0),
        v1.JobRetrying(**job, phase="facade", error="git fetch: could not resolve host h", error_kind="transient",
                       retry_at=T0),
        v1.RepoRegistered(url="https://github.com/o/r", platform="github", host="github.com", owner="o", name="r",
                          registered_at=T0),
        v1.JobDispatched(repo_id=5, phase="facade", job_id="facade-5-1", dispatched_at=T0),
        v1.PhaseScheduled(repo_id=5, phase="facade", job_id="facade-5-1", state="done", next_due=T0),
        v1.RepoRemoved(repo_id=5, requested_at=T0),
        v1.GroupAdded(name="core", requested_at=T0),
        v1.GroupRemoved(group_id=5, requested_at=T0),
        v1.AccountReposObserved(repo_id=0, job_id="account-3-1", attempt=1, seq=0, account="o",
                                items=[v1.RepoMeta(platform_id=1, owner="o", name="r")]),
        v1.AccountListed(repo_id=0, job_id="account-3-1", attempt=1, seq=1, source_id=3, account="o", total=1,
                         etag='"e"', platform_account_id=9),
        v1.ContributorActivityObserved(repo_id=0, job_id="activity-1-0", attempt=1, seq=0, namespace="github",
                                       login="alice", etag='"x"', items=[v1.PublicEvent(
                                           platform_id=123, type="PushEvent", repo_name="x/y", repo_platform_id=4,
                                           actor=ALICE, created_at=T0)]),
        v1.RepoIdentified(repo_id=5, url="https://github.com/o/r", platform="github", host="github.com", owner="o",
                          name="r", group="g", registered_at=T0),
        v1.RepoSettingsChanged(repo_id=5, changed_at=T0, priority=3, recollect_interval_s=60.0),
        v1.GroupSettingsChanged(group="g", changed_at=T0, recollect_interval_s=3600.0),
        v1.RepoPrioritized(repo_id=5, phases=["collector", "facade"], at=T0),
        v1.GroupSourceAdded(group="o", platform="github", host="github.com", account="o",
                            url="https://github.com/o", added_at=T0),
        v1.DeadLetterRetried(dead_letter_id=7, retried_at=T0, job_id="facade-5-9"),
        v1.RefreshViews(run_id="views-1", requested_at=T0),
    ]


def test_samples_cover_every_staged_type() -> None:
    assert {type(e) for e in _staged_samples()} == set(get_args(v1.StagedEvent))


@pytest.mark.parametrize("event", _staged_samples(), ids=lambda e: type(e).__name__)
def test_staged_round_trip(event: Any) -> None:
    decoded = v1.staged_decoder.decode(v1.encoder.encode(event))
    assert type(decoded) is type(event)
    assert decoded == event


def test_job_and_progress_round_trip() -> None:
    job = v1.Job(job_id="j", repo_id=1, phase="collector", url="u", platform="github", full=True, dispatched_at=T0)
    assert v1.job_decoder.decode(v1.encoder.encode(job)) == job
    account = v1.Job(job_id="a", repo_id=0, phase="collector", url="https://github.com/o", platform="github",
                     kind=v1.KIND_ACCOUNT, task="account-3", source_id=3, owner="o")
    assert v1.job_decoder.decode(v1.encoder.encode(account)) == account
    assert (job.key, account.key) == (1, "account-3")
    for event in (v1.JobCommitted(repo_id=1, phase="p", job_id="j", ok=True, rows={"issues": 3}),
                  v1.RepoAdded(repo_id=1, url="u", created=True),
                  v1.AccountSynced(source_id=3, job_id="a", group="o", listed=4, added=[7], unlisted=1),
                  v1.ViewsRefreshed(run_id="r", views=["data.v"], failed={"data.w": "boom"})):
        assert v1.progress_decoder.decode(v1.encoder.encode(event)) == event


def test_an_old_job_without_the_new_fields_is_a_repository_job() -> None:
    # Additive: a job published before kinds existed still decodes, as a repository job.
    old = b'{"type":"job","job_id":"j","repo_id":4,"phase":"facade","url":"u","platform":"git"}'
    job = v1.job_decoder.decode(old)
    assert (job.kind, job.task, job.key) == (v1.KIND_REPO, "", 4)


def test_msg_id_is_deterministic_and_ignores_the_payload() -> None:
    a = v1.IssuesObserved(repo_id=1, job_id="j", attempt=1, seq=4, items=[])
    b = v1.IssuesObserved(repo_id=1, job_id="j", attempt=1, seq=4,
                          items=[v1.Issue(platform_id=1, number=1, title="t", state="open")])
    assert v1.msg_id(a) == v1.msg_id(b) == v1.msg_id(v1.staged_decoder.decode(v1.encoder.encode(a)))


def test_msg_id_distinct_per_job_attempt_seq_and_type() -> None:
    ids = set()
    kinds = [
        lambda **k: v1.IssuesObserved(**k, items=[]),
        lambda **k: v1.CommentsObserved(**k, items=[]),
        lambda **k: v1.JobFinished(**k, phase="collector", messages=0),
    ]
    combos = list(itertools.product(["j1", "j2"], [1, 2], [0, 1, 10], kinds))
    for job, attempt, seq, make in combos:
        ids.add(v1.msg_id(make(repo_id=1, job_id=job, attempt=attempt, seq=seq)))
    assert len(ids) == len(combos)


def test_msg_ids_of_other_messages_are_distinct() -> None:
    ids = [v1.msg_id(e) for e in _staged_samples()[5:]]
    ids += [v1.msg_id(v1.JobCommitted(repo_id=5, phase="facade", job_id="facade-5-1", ok=True)),
            v1.msg_id(v1.RepoAdded(repo_id=5, url="u", created=True))]
    assert len(set(ids)) == len(ids)


def test_job_id_is_deterministic_per_phase_repo_and_due() -> None:
    later = T0 + timedelta(milliseconds=1)
    assert v1.job_id("collector", 5, T0) == v1.job_id("collector", 5, T0.astimezone(timezone(timedelta(hours=9))))
    variants = {v1.job_id(p, r, d) for p in ("collector", "facade") for r in (5, 50) for d in (T0, later)}
    assert len(variants) == 8
    assert v1.job_id("collector", 5, T0).startswith("collector-5-")


# ------------------------------------------------------------------ subjects


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` one or more trailing tokens."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def overlap(a: str, b: str) -> bool:
    """Whether some subject matches both patterns."""
    x, y = a.split("."), b.split(".")
    for i in range(min(len(x), len(y))):
        if ">" in (x[i], y[i]):
            return True
        if "*" not in (x[i], y[i]) and x[i] != y[i]:
            return False
    return len(x) == len(y)


def test_matcher_itself() -> None:
    assert matches("a.>", "a.b.c") and not matches("a.>", "a")
    assert matches("a.*.c", "a.b.c") and not matches("a.*", "a.b.c")
    assert overlap("a.>", "a.b.*") and overlap("a.*.c", "a.b.>") and not overlap("a.b", "a.c.>")
    assert not overlap("cmd.collector.>", "cmd.facade.>") and overlap("cmd.>", "cmd.facade.>")
    assert not overlap("a.>", "a") and not overlap("a.b", "a.b.c") and overlap("a.*", "*.b")


def test_repo_events_filter_covers_one_repo_only() -> None:
    filters = subjects.repo_events_filter(7)
    for source in subjects.SOURCES:
        for kind in ("issues", "finished", "scheduled"):
            assert any(matches(f, subjects.event_subject(source, 7, kind)) for f in filters)
            assert not any(matches(f, subjects.event_subject(source, 70, kind)) for f in filters)
            assert not any(matches(f, subjects.event_subject(source, 17, kind)) for f in filters)
    assert not any(matches(f, subjects.progress_subject(7)) for f in filters)


def test_a_repository_identity_is_on_its_own_subjects_only() -> None:
    assert any(matches(f, subjects.identity_subject(7)) for f in subjects.repo_events_filter(7))
    assert not any(matches(f, subjects.identity_subject(17)) for f in subjects.repo_events_filter(7))
    assert matches(subjects.IDENTITIES_FILTER, subjects.identity_subject(17))
    assert not matches(subjects.IDENTITIES_FILTER, subjects.event_subject(subjects.SOURCE_CONTROL, 17, "settings"))
    # Events about groups, operations and tasks are nobody's repository events.
    for key in (subjects.CONTROL_GROUP_KEY, subjects.CONTROL_OPS_KEY, subjects.task_key("account", 7)):
        subject = subjects.event_subject(subjects.SOURCE_CONTROL, key, "x")
        assert not any(matches(f, subject) for f in subjects.repo_events_filter(7))


def _built_subjects() -> list[str]:
    built = [subjects.command_subject(p, 3) for p in subjects.JOB_PHASES]
    built += [subjects.command_subject(subjects.PHASE_COLLECTOR, subjects.task_key("account", 3))]
    built += [subjects.event_subject(s, r, "finished") for s in subjects.SOURCES
              for r in (3, subjects.CONTROL_REPO_KEY, subjects.CONTROL_GROUP_KEY, subjects.task_key("activity", 1))]
    built += [subjects.identity_subject(3), subjects.progress_subject(3), subjects.progress_subject("source-3")]
    built += [subjects.deadletter_subject(s) for s in list(built)]
    return built


@pytest.mark.parametrize("subject", _built_subjects())
def test_every_subject_lands_in_exactly_one_stream(subject: str) -> None:
    owners = [s.name for s in subjects.STREAMS if any(matches(f, subject) for f in s.subjects)]
    assert len(owners) == 1, owners


def test_stream_subjects_do_not_overlap() -> None:
    pairs = [(a.name, fa, b.name, fb) for a, b in itertools.combinations(subjects.STREAMS, 2)
             for fa in a.subjects for fb in b.subjects]
    assert [p for p in pairs if overlap(p[1], p[3])] == []


def test_work_queue_filters_are_disjoint_and_select_their_phase() -> None:
    for a, b in itertools.combinations(subjects.JOB_PHASES, 2):
        assert not overlap(subjects.command_filter(a), subjects.command_filter(b))
    for phase in subjects.JOB_PHASES:
        picked = [p for p in subjects.JOB_PHASES if matches(subjects.command_filter(phase), subjects.command_subject(p, 9))]
        assert picked == [phase]
    assert len({subjects.job_consumer(p) for p in subjects.JOB_PHASES}) == len(subjects.JOB_PHASES)


# ------------------------------------------------------------------ chunk_by_size


def _size(items: list[Any]) -> int:
    return sum(len(msgspec.json.encode(i)) for i in items)


@pytest.mark.parametrize(("max_items", "max_bytes"), [(1, 10**6), (3, 10**6), (100, 50), (4, 120), (7, 333)])
def test_chunks_respect_limits_and_order(max_items: int, max_bytes: int) -> None:
    items = [{"n": i, "pad": "x" * (i * 7 % 40)} for i in range(60)]
    chunks = chunk_by_size(items, max_items=max_items, max_bytes=max_bytes)
    assert [i for c in chunks for i in c] == items
    assert all(1 <= len(c) <= max_items for c in chunks)
    assert all(_size(c) <= max_bytes for c in chunks if len(c) > 1)
    # Greedy: no chunk could have taken the next chunk's first item.
    for c, nxt in itertools.pairwise(chunks):
        assert len(c) == max_items or _size(c) + _size(nxt[:1]) > max_bytes


def test_oversize_item_goes_alone() -> None:
    small, big = "s", "B" * 500
    assert chunk_by_size([small, small, big, small], max_items=10, max_bytes=100) == [[small, small], [big], [small]]
    assert chunk_by_size([big, big], max_items=10, max_bytes=100) == [[big], [big]]


def test_no_items_no_chunks() -> None:
    assert chunk_by_size([], max_items=5) == []


# ------------------------------------------------------------------ decode_lenient

COMMENT = msgspec.json.Decoder(v1.Comment)


def test_decode_lenient_fast_path() -> None:
    body = b'{"platform_id": 1, "parent_number": 2, "body": "ok \\ud83d\\ude00"}'
    assert decode_lenient(COMMENT, body) == v1.Comment(platform_id=1, parent_number=2, body="ok \U0001f600")


def test_decode_lenient_cleans_lone_surrogates() -> None:
    body = b'{"platform_id": 1, "parent_number": 2, "body": "cut \\ud83d here\\u0000", "html_url": "\\udc00"}'
    with pytest.raises(msgspec.DecodeError):
        COMMENT.decode(body)  # the strict parser refuses it: this is the slow path
    comment = decode_lenient(COMMENT, body)
    assert comment == v1.Comment(platform_id=1, parent_number=2, body="cut \ufffd here\ufffd", html_url="\ufffd")
    comment.body.encode("utf-8")  # type: ignore[union-attr]


def test_decode_lenient_cleans_nested_lists_and_keys() -> None:
    decoder = msgspec.json.Decoder(list[dict[str, list[str]]])
    assert decode_lenient(decoder, b'[{"k\\ud800": ["a\\udfff"]}]') == [{"k\ufffd": ["a\ufffd"]}]


@pytest.mark.parametrize("body", [b'{"platform_id": 1, "parent_nu', b"", b"<html>502</html>", b"\xff\xfe{}"])
def test_decode_lenient_rejects_non_json(body: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_lenient(COMMENT, body)


@pytest.mark.parametrize("body", [b'{"platform_id": "one", "parent_number": 2}', b'{"parent_number": 2}',
                                  b'[1, 2]', b'{"platform_id": "\\ud800", "parent_number": 2}'])
def test_decode_lenient_wrong_shape_is_validation_error(body: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_lenient(COMMENT, body)


def test_control_request_ids_name_the_request_and_its_moment() -> None:
    """A retried publish of one request is a duplicate; the same change asked later is not."""
    first = v1.RepoRemoved(repo_id=5, requested_at=T0)
    assert v1.msg_id(first) == v1.msg_id(v1.RepoRemoved(repo_id=5, requested_at=T0))
    later = v1.RepoRemoved(repo_id=5, requested_at=T0 + timedelta(microseconds=1))
    assert v1.msg_id(later) != v1.msg_id(first)
    assert v1.msg_id(v1.RepoRemoved(repo_id=5, requested_at=T0)) != v1.msg_id(v1.GroupRemoved(group_id=5,
                                                                                              requested_at=T0))


def test_token_pool_state_round_trip() -> None:
    state = v1.TokenPoolState(server="api.github.com", instance="collector-0-1", updated_at=T0, active=2,
                              budgets=[v1.TokenBudget(token="tok#ab12", bucket="core", remaining=4999, reset_at=T0,
                                                      observed_at=T0),
                                       v1.TokenBudget(token="tok#cd34", bucket="graphql", active=False)])
    assert v1.token_pool_decoder.decode(v1.encoder.encode(state)) == state
