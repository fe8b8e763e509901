"""Giant commits are cut to fit NATS messages, and the processor puts them back together."""

from __future__ import annotations

from datetime import datetime, timezone

from services.facade.app import MAX_MESSAGE_CHARS, fit
from services.processor.rows import build_rows
from shared.events import v1
from shared.events.jetstream import MAX_MESSAGE_BYTES, chunk_by_size

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def giant(files: int) -> v1.Commit:
    return v1.Commit(sha="a" * 40, author_date=WHEN, message="import\n",
                     files=[v1.FileChange(path=f"src/very/deep/path/module_{i:05}.py", added=i % 7, deleted=1)
                            for i in range(files)] + [v1.FileChange(path="logo.png")])


def test_small_commit_is_one_entry_without_totals() -> None:
    commit = giant(10)
    assert fit(commit) == [commit]


def test_giant_commit_spreads_files_and_carries_totals() -> None:
    commit = giant(2500)
    entries = fit(commit, max_files=1000)
    assert len(entries) == 3
    assert [f for e in entries for f in e.files] == commit.files
    assert {(e.file_count, e.added_total, e.deleted_total) for e in entries} == {
        (2501, sum(i % 7 for i in range(2500)), 2500)}
    # Each entry fits a message of its own.
    for entry in entries:
        assert len(chunk_by_size([entry], max_items=500)) == 1
        assert len(v1.encoder.encode(entry)) < MAX_MESSAGE_BYTES


def test_long_paths_split_by_size_not_only_by_count() -> None:
    commit = v1.Commit(sha="c" * 40, files=[v1.FileChange(path=f"{i:04}/" + "d" * 3000, added=1, deleted=0)
                                            for i in range(400)])
    entries = fit(commit)
    assert len(entries) > 1 and all(len(v1.encoder.encode(e)) < MAX_MESSAGE_BYTES for e in entries)
    assert sum(len(e.files) for e in entries) == 400


def test_giant_message_is_cut_with_a_marker() -> None:
    commit = v1.Commit(sha="b" * 40, message="x" * (MAX_MESSAGE_CHARS + 10))
    (entry,) = fit(commit)
    assert entry.message.endswith("[truncated by watershed]")
    assert len(entry.message) < MAX_MESSAGE_CHARS + 100


def _event(seq: int, items: list[v1.Commit]) -> v1.CommitsObserved:
    return v1.CommitsObserved(repo_id=1, job_id="j", seq=seq, items=items)


def test_processor_rebuilds_the_commit_from_its_entries_in_one_batch_or_many() -> None:
    entries = fit(giant(2500), max_files=1000)
    together = build_rows([_event(0, entries)], {1: "git"})
    assert len(together.commits) == 1 and len(together.commit_files) == 2501
    names = together.commits.names
    row = {n: together.commits.data[i][0] for i, n in enumerate(names)}
    assert row["files_changed"] == 2501 and row["deletions"] == 2500
    # Spread over batches, each batch writes the same commit row and its share of files.
    apart = [build_rows([_event(i, [e])], {1: "git"}) for i, e in enumerate(entries)]
    assert sum(len(b.commit_files) for b in apart) == 2501
    for batch in apart:
        values = {n: batch.commits.data[i][0] for i, n in enumerate(names)}
        assert values["files_changed"] == 2501 and values["additions"] == row["additions"]


def test_remote_for_github_com_enterprise_and_plain_git() -> None:
    from services.facade.app import remote_for
    from shared.settings import load_settings

    settings = load_settings({}, github_git_url="http://127.0.0.1:9/git")
    job = v1.Job(job_id="j", repo_id=1, phase="facade", url="https://github.com/o/r", platform="github",
                 host="github.com", owner="O", name="R")
    assert remote_for(job, settings) == "http://127.0.0.1:9/git/O/R.git"
    ghe = v1.Job(job_id="j", repo_id=2, phase="facade", url="https://ghe.example.com/o/r", platform="github",
                 host="ghe.example.com", owner="o", name="r")
    assert remote_for(ghe, settings) == "https://ghe.example.com/o/r.git"
    plain = v1.Job(job_id="j", repo_id=3, phase="facade", url="https://git.example.org/x.git", platform="git")
    assert remote_for(plain, settings) == "https://git.example.org/x.git"


def test_remote_for_enterprise_hosts_follows_their_git_urls() -> None:
    from services.facade.app import remote_for
    from shared.settings import load_settings

    settings = load_settings({"WATERSHED_GITHUB_ENTERPRISE_HOSTS": "ghe.example.com,ghe.example.test",
                              "WATERSHED_GITHUB_ENTERPRISE_GIT_URLS": "ghe.example.test=http://127.0.0.1:9/git"})

    def job(host: str) -> v1.Job:
        return v1.Job(job_id="j", repo_id=1, phase="facade", url=f"https://{host}/o/r", platform="github",
                      host=host, owner="O", name="R")

    assert remote_for(job("ghe.example.com"), settings) == "https://ghe.example.com/O/R.git"
    assert remote_for(job("ghe.example.test"), settings) == "http://127.0.0.1:9/git/O/R.git"
    assert remote_for(job("github.com"), settings) == "https://github.com/O/R.git"
    # A host dropped from the settings after registration is still cloned from itself.
    assert remote_for(job("gone.example.com"), settings) == "https://gone.example.com/O/R.git"


def test_remote_for_gitlab_projects_follows_their_hosts_git_urls() -> None:
    from services.facade.app import remote_for
    from shared.settings import load_settings

    settings = load_settings({"WATERSHED_GITLAB_GIT_URL": "http://127.0.0.1:9/git",
                              "WATERSHED_GITLAB_HOSTS": "code.example.org,lab.example.test",
                              "WATERSHED_GITLAB_GIT_URLS": "lab.example.test=http://127.0.0.1:8/git"})

    def job(host: str) -> v1.Job:
        return v1.Job(job_id="j", repo_id=1, phase="facade", url=f"https://{host}/g/sub/p", platform="gitlab",
                      host=host, owner="G/Sub", name="P")

    assert remote_for(job("gitlab.com"), settings) == "http://127.0.0.1:9/git/G/Sub/P.git"
    assert remote_for(job("code.example.org"), settings) == "https://code.example.org/G/Sub/P.git"
    assert remote_for(job("lab.example.test"), settings) == "http://127.0.0.1:8/git/G/Sub/P.git"
    assert remote_for(job("gone.example.com"), settings) == "https://gone.example.com/G/Sub/P.git"
