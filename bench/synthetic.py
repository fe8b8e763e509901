"""Synthetic community history for many repositories, written straight into the ``data`` tables
with COPY (no pipeline): what the analytics bench (bench/analytics.py) queries.

    rows = generate(Shape(repos=1000, seed=1))   # pure: (table, columns, rows) chunks
    counts = await load(conn, Shape(...))          # COPY them, then fix the identity sequences

The shape of the data, per 1,000 repositories (everything scales with ``repos``):

* sizes are skewed (Zipf, exponent 1): the biggest repository has ~3 % of everything, the
  median one ~0.04 % (about 100 commits); 10 % are plain git repositories (commits only);
* ~300k commits with ~2.5 files each (merges: none), parents, messages; ~100k issues, ~50k pull
  requests (65 % merged), ~300k conversation comments, ~75k reviews, ~45k review comments,
  ~150k pull request files, ~100k pull request commits (shas of the repository's commits),
  ~270k issue events (closed, merged, assigned, labeled), labels, assignees, releases,
  repository snapshots and the forge's contributor counts;
* ~40 people per repository in one global pool (popular people work on many repositories),
  0.5 % of them bots (plus dependabot and github-actions everywhere); each has 1–3 email
  addresses, 85 % of which the resolver knows (``data.contributor_aliases``); 5 % of commits
  come from addresses no account claims.

Deterministic: the same shape and day give the same rows (times are relative to ``Shape.now``).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from shared.ids import contributor_id

# Per 1,000 repositories.
COMMITS, ISSUES, PULLS = 300_000, 100_000, 50_000
PEOPLE_PER_REPO = 40
GIT_SHARE = 0.10
BOT_SHARE = 0.005
KNOWN_EMAIL_SHARE = 0.85
ANONYMOUS_COMMIT_SHARE = 0.05
CHUNK_ROWS = 50_000

LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut "
         "aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum "
         "dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui "
         "officia deserunt mollit anim id est laborum. ") * 12
LABELS = ("bug", "enhancement", "documentation", "question", "good first issue", "help wanted", "duplicate",
          "wontfix", "dependencies", "security", "performance", "needs triage")
DOMAINS = ("redhat.com", "microsoft.com", "google.com", "ibm.com", "intel.com", "suse.com", "canonical.com",
           "vmware.com", "apple.com", "meta.com", "amazon.com", "example.edu", "uni-example.de")
PUBLIC_MAIL = ("gmail.com", "outlook.com", "protonmail.com", "yahoo.com")
LANGUAGES = ("Python", "Go", "JavaScript", "TypeScript", "Rust", "Java", "C", "C++", "Ruby", "Shell")
DIRS = ("src", "lib", "docs", "tests", "cmd", "pkg", "internal", "scripts", "api", "web")
EXTS = (".py", ".go", ".js", ".ts", ".rs", ".java", ".c", ".h", ".md", ".yaml", ".json", ".toml")
REVIEW_STATES = ("APPROVED", "COMMENTED", "COMMENTED", "CHANGES_REQUESTED", "APPROVED", "DISMISSED")
ASSOCIATIONS = ("MEMBER", "CONTRIBUTOR", "COLLABORATOR", "FIRST_TIME_CONTRIBUTOR", "NONE", "OWNER")

COLUMNS: dict[str, tuple[str, ...]] = {
    "repos": ("repo_id", "repo_group_id", "url", "platform", "host", "owner", "name", "state", "platform_repo_id",
              "description", "default_branch", "language", "is_fork", "is_archived", "stars", "forks", "watchers",
              "open_issues", "html_url", "clone_url", "created_at", "updated_at", "pushed_at", "registered_at",
              "metadata_at"),
    "contributors": ("cntrb_id", "platform", "platform_user_id", "login", "node_id", "kind", "name", "email",
                     "avatar_url", "html_url", "created_at", "first_seen_at", "updated_at", "affiliation"),
    "contributor_aliases": ("namespace", "email", "cntrb_id", "source", "checked_at"),
    "commits": ("repo_id", "sha", "author_name", "author_email", "author_date", "author_tz_minutes",
                "committer_name", "committer_email", "committer_date", "committer_tz_minutes", "files_changed",
                "additions", "deletions", "author_affiliation", "committer_affiliation"),
    "commit_files": ("repo_id", "sha", "path", "old_path", "added", "deleted"),
    "commit_parents": ("repo_id", "sha", "parent_sha", "position"),
    "commit_messages": ("repo_id", "sha", "message"),
    "issues": ("issue_id", "repo_id", "platform_issue_id", "number", "node_id", "title", "body", "state",
               "state_reason", "locked", "author_id", "closed_by_id", "comments", "html_url", "created_at",
               "updated_at", "closed_at"),
    "issue_labels": ("issue_id", "name", "color", "description", "platform_label_id"),
    "issue_assignees": ("issue_id", "cntrb_id"),
    "pull_requests": ("pull_request_id", "repo_id", "platform_pr_id", "number", "node_id", "title", "body", "state",
                      "draft", "locked", "author_id", "author_association", "html_url", "created_at", "updated_at",
                      "closed_at", "merged_at", "merge_commit_sha", "head_ref", "head_sha", "head_repo", "base_ref",
                      "base_sha", "merged_by_id", "reviews_total", "commits_total", "files_total"),
    "pull_request_labels": ("pull_request_id", "name", "color", "description", "platform_label_id"),
    "pull_request_assignees": ("pull_request_id", "cntrb_id"),
    "pull_request_reviewers": ("pull_request_id", "cntrb_id"),
    "messages": ("repo_id", "platform_msg_id", "parent_number", "node_id", "body", "author_id", "author_association",
                 "html_url", "created_at", "updated_at"),
    "reviews": ("repo_id", "platform_review_id", "pr_number", "node_id", "state", "author_id", "author_association",
                "body", "commit_sha", "html_url", "submitted_at"),
    "review_comments": ("repo_id", "platform_msg_id", "pr_number", "node_id", "platform_review_id", "in_reply_to",
                        "path", "diff_hunk", "line", "original_line", "commit_sha", "original_commit_sha", "body",
                        "author_id", "author_association", "html_url", "created_at", "updated_at"),
    "pr_commits": ("repo_id", "pr_number", "sha", "message", "author_name", "author_email", "author_date",
                   "committer_name", "committer_email", "committer_date", "author_id", "committer_id", "additions",
                   "deletions"),
    "pr_files": ("repo_id", "pr_number", "path", "previous_path", "status", "additions", "deletions"),
    "issue_events": ("repo_id", "platform_event_id", "issue_number", "is_pull_request", "node_id", "event",
                     "actor_id", "created_at", "commit_sha", "label", "assignee_id"),
    "releases": ("repo_id", "platform_release_id", "node_id", "tag_name", "name", "body", "draft", "prerelease",
                 "author_id", "target_commitish", "html_url", "created_at", "published_at"),
    "repo_info": ("repo_id", "observed_at", "stars", "forks", "watchers", "open_issues", "closed_issues",
                  "open_pull_requests", "closed_pull_requests", "merged_pull_requests", "commit_count", "license",
                  "default_branch", "is_archived", "is_disabled", "has_readme", "has_contributing",
                  "has_code_of_conduct", "has_security", "has_changelog", "health_percentage"),
    "repo_contributors": ("repo_id", "cntrb_id", "contributions"),
}
# Parents before children (foreign keys); the order chunks are written in.
ORDER = tuple(COLUMNS)
# Identity columns given explicit values: their sequences are moved past them after the load.
IDENTITIES = {"repos": "repo_id", "issues": "issue_id", "pull_requests": "pull_request_id"}


def _midnight() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Shape:
    repos: int = 1000
    seed: int = 1
    # Every time is before this; the default (today, 00:00 UTC) keeps every row in the past.
    now: datetime = field(default_factory=_midnight)

    @property
    def scale(self) -> float:
        return self.repos / 1000


@dataclass
class Person:
    index: int
    cntrb_id: uuid.UUID
    login: str
    name: str
    emails: list[str]
    bot: bool
    affiliation: str | None


class _Draw:
    """Weighted draws by cumulative weights (bisect): the hot path of the generator."""

    def __init__(self, rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.rng, self.items = rng, items
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def __call__(self) -> Any:
        return self.items[bisect.bisect(self.cum, self.rng.random() * self.total)]


def zipf(n: int, offset: float = 1.0, exponent: float = 1.0) -> list[float]:
    return [1.0 / (k + offset) ** exponent for k in range(n)]


class _Chunks:
    """Rows per table, handed out in chunks of about CHUNK_ROWS."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in ORDER}
        self.pending = 0

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)
        self.pending += 1

    def drain(self, force: bool = False) -> Iterator[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
        if not force and self.pending < CHUNK_ROWS:
            return
        for table in ORDER:
            if self.rows[table]:
                yield table, COLUMNS[table], self.rows[table]
                self.rows[table] = []
        self.pending = 0


class _Generator:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.rng = random.Random(shape.seed)
        self.now = shape.now
        self.ids = itertools.count(10_000_000)  # platform ids of issues, comments, events...
        self.issue_ids = itertools.count(1)
        self.pull_ids = itertools.count(1)
        self.out = _Chunks()

    # -- helpers -------------------------------------------------------------------------
    def text(self, mean: int) -> str:
        n = max(8, int(self.rng.expovariate(1 / mean)))
        n = min(n, len(LOREM) - 1)
        start = self.rng.randrange(len(LOREM) - n)
        return LOREM[start:start + n]

    def sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def after(self, moment: datetime, mean_hours: float) -> datetime:
        later = moment + timedelta(hours=self.rng.expovariate(1 / mean_hours))
        return min(later, self.now - timedelta(seconds=1))

    def node(self, prefix: str, number: int) -> str:
        return f"{prefix}_{number:x}"

    # -- people --------------------------------------------------------------------------
    def people(self) -> list[Person]:
        rng, count = self.rng, max(20, int(PEOPLE_PER_REPO * self.shape.repos))
        people = []
        for index in range(count):
            uid = 1_000 + index
            bot = index in (0, 1) or rng.random() < BOT_SHARE
            if index == 0:
                login = "dependabot[bot]"
            elif index == 1:
                login = "github-actions[bot]"
            else:
                login = f"bot{index}[bot]" if bot else f"user{index}"
            org = rng.choice(DOMAINS) if rng.random() < 0.45 else None
            if bot:
                emails = [f"{uid}+{login}@users.noreply.github.com"]
            else:
                emails = [f"{uid}+{login}@users.noreply.github.com"]
                if org:
                    emails.append(f"{login}@{org}")
                if rng.random() < 0.6:
                    emails.append(f"{login}.{index % 97}@{rng.choice(PUBLIC_MAIL)}")
                rng.shuffle(emails)
            people.append(Person(index, contributor_id("github", uid), login, f"Person {index}", emails, bot, org))
        return people

    def write_people(self, people: list[Person]) -> None:
        rng, now = self.rng, self.now
        for p in people:
            created = now - timedelta(days=rng.uniform(30, 5000))
            public = next((e for e in p.emails if "noreply" not in e), None) if rng.random() < 0.3 else None
            uid = 1_000 + p.index
            self.out.add("contributors", (
                p.cntrb_id, "github", uid, p.login, self.node("U", uid), "Bot" if p.bot else "User", p.name, public,
                f"https://avatars.githubusercontent.com/u/{uid}", f"https://github.com/{p.login}", created,
                created + timedelta(days=1), now - timedelta(days=rng.uniform(0, 30)), p.affiliation))
            for email in p.emails:
                if "noreply" in email:
                    self.out.add("contributor_aliases", ("github", email.lower(), p.cntrb_id, "noreply", now))
                elif rng.random() < KNOWN_EMAIL_SHARE:
                    source = rng.choice(("commit_lookup", "pr_commit", "public_email"))
                    self.out.add("contributor_aliases", ("github", email.lower(), p.cntrb_id, source, now))
        # Addresses the forge knows no account for (the resolver asked, found none).
        for n in range(int(200 * self.shape.scale) + 1):
            self.out.add("contributor_aliases", ("github", f"dev{n}@corp{n % 13}.example", None, "none", now))

    # -- one repository ------------------------------------------------------------------
    def repository(self, repo_id: int, group_id: int, weight: float, draw_person: _Draw) -> None:
        rng, now, out = self.rng, self.now, self.out
        git_only = rng.random() < GIT_SHARE
        scale = self.shape.repos * weight  # this repository's share, times the repository count
        n_commits = max(1, round(COMMITS / 1000 * scale * rng.uniform(0.7, 1.3)))
        n_issues = 0 if git_only else round(ISSUES / 1000 * scale * rng.uniform(0.5, 1.5))
        n_pulls = 0 if git_only else round(PULLS / 1000 * scale * rng.uniform(0.5, 1.5))
        owner, name = f"org{repo_id % 173}", f"project-{repo_id}"
        if git_only:
            url, platform, host = f"https://git.example.org/{owner}/{name}.git", "git", "git.example.org"
        else:
            url, platform, host = f"https://github.com/{owner}/{name}", "github", "github.com"
        created = now - timedelta(days=rng.uniform(60, 3650))
        age_s = (now - created).total_seconds()

        community_size = max(3, min(2000, int(6 + 4 * math.sqrt(n_commits + n_issues + n_pulls))))
        community: list[Person] = list({p.index: p for p in (draw_person() for _ in range(community_size))}.values())
        bots = [p for p in community if p.bot]
        humans = [p for p in community if not p.bot] or community
        actor = _Draw(rng, humans, zipf(len(humans), offset=1.5, exponent=1.1))
        maintainers = humans[:max(1, len(humans) // 10)]
        anonymous = [f"dev{rng.randrange(int(200 * self.shape.scale) + 1)}@corp{rng.randrange(13)}.example",
                     f"someone{repo_id}@localhost"]

        files = [f"{rng.choice(DIRS)}/{rng.choice(DIRS)}/file{k}{rng.choice(EXTS)}"
                 for k in range(int(10 + 3 * math.sqrt(n_commits)))]
        file_draw = _Draw(rng, files, zipf(len(files), offset=2.0))

        stars = int(rng.paretovariate(1.2) * 10 * math.sqrt(scale))
        out.add("repos", (
            repo_id, group_id, url, platform, host, owner, name, "active", 5_000_000 + repo_id,
            self.text(80), "main", rng.choice(LANGUAGES), False, rng.random() < 0.03, stars, stars // 8, stars // 20,
            n_issues // 4, url if not git_only else None, url + ".git" if not git_only else url, created,
            now - timedelta(days=rng.uniform(0, 30)), now - timedelta(days=rng.uniform(0, 30)),
            now - timedelta(days=40), now - timedelta(days=1)))

        # Commits: a linear history, with a merge now and then.
        commit_times = sorted(created + timedelta(seconds=rng.uniform(0, age_s)) for _ in range(n_commits))
        shas: list[str] = []
        authored: list[tuple[str, str, Person | None, datetime]] = []
        for k, when in enumerate(commit_times):
            sha = self.sha()
            merge = k > 2 and rng.random() < 0.06
            if rng.random() < ANONYMOUS_COMMIT_SHARE:
                person, email = None, rng.choice(anonymous)
            else:
                person = rng.choice(bots) if bots and rng.random() < 0.05 else actor()
                email = rng.choice(person.emails)
            author_name = person.name if person else email.split("@")[0]
            tz = rng.choice((-480, -300, 0, 60, 120, 330, 540))
            committed = when + timedelta(minutes=rng.expovariate(1 / 30)) if rng.random() < 0.3 else when
            committed = min(committed, now - timedelta(seconds=1))
            added = deleted = 0
            n_files = 0 if merge else min(len(files), 1 + int(rng.expovariate(1 / 2.2)))
            touched = {file_draw() for _ in range(n_files)}
            for path in touched:
                a, d = int(rng.expovariate(1 / 25)), int(rng.expovariate(1 / 10))
                added, deleted = added + a, deleted + d
                out.add("commit_files", (repo_id, sha, path, None, a, d))
            affiliation = person.affiliation if person else None
            out.add("commits", (repo_id, sha, author_name, email, when, tz, author_name, email, committed, tz,
                                len(touched), added, deleted, affiliation, affiliation))
            if shas:
                out.add("commit_parents", (repo_id, sha, shas[-1], 1))
                if merge:
                    out.add("commit_parents", (repo_id, sha, shas[rng.randrange(len(shas))], 2))
            out.add("commit_messages", (repo_id, sha, self.text(60)))
            shas.append(sha)
            authored.append((sha, email, person, when))

        by_email = {p_email: p for _, p_email, p, _ in authored if p is not None}

        # Issues and pull requests share one number sequence, in order of creation.
        kinds = ["issue"] * n_issues + ["pull"] * n_pulls
        rng.shuffle(kinds)
        times = sorted(created + timedelta(seconds=rng.uniform(0, age_s)) for _ in kinds)
        label_ids = {label: 7_000_000 + repo_id * 100 + k for k, label in enumerate(LABELS)}
        counts = {"open_issues": 0, "closed_issues": 0, "open_pulls": 0, "closed_pulls": 0, "merged_pulls": 0}
        for number, (kind, opened) in enumerate(zip(kinds, times, strict=True), 1):
            if kind == "issue":
                self.issue(repo_id, url, number, opened, actor, maintainers, counts, label_ids)
            else:
                self.pull(repo_id, url, number, opened, actor, maintainers, bots, authored, by_email, file_draw,
                          counts, label_ids)

        n_releases = min(80, n_commits // 60 + (1 if rng.random() < 0.5 else 0))
        for k in range(n_releases):
            when = created + timedelta(seconds=age_s * (k + 1) / (n_releases + 1))
            draft = rng.random() < 0.03
            out.add("releases", (
                repo_id, next(self.ids), self.node("RE", repo_id * 1000 + k), f"v{k // 10}.{k % 10}.0",
                f"Release {k // 10}.{k % 10}", self.text(300), draft, rng.random() < 0.1,
                rng.choice(maintainers).cntrb_id, "main", f"{url}/releases/v{k}", when,
                None if draft else when + timedelta(hours=1)))

        for days_ago in (1, 8) if rng.random() < 0.5 else (1,):
            out.add("repo_info", (
                repo_id, now - timedelta(days=days_ago), stars, stars // 8, stars // 20, counts["open_issues"],
                counts["closed_issues"], counts["open_pulls"], counts["closed_pulls"], counts["merged_pulls"],
                n_commits, rng.choice(("MIT", "Apache-2.0", "GPL-3.0", None)), "main", False, False, True,
                rng.random() < 0.6, rng.random() < 0.4, rng.random() < 0.3, rng.random() < 0.2, rng.randrange(20, 100)))

        contributions: dict[uuid.UUID, int] = {}
        for _, _, person, _ in authored:
            if person is not None:
                contributions[person.cntrb_id] = contributions.get(person.cntrb_id, 0) + 1
        for cntrb_id, n in sorted(contributions.items(), key=lambda kv: -kv[1])[:100]:
            out.add("repo_contributors", (repo_id, cntrb_id, n))

    def comments(self, repo_id: int, url: str, number: int, opened: datetime, mean: float, actor: _Draw) -> int:
        n = int(self.rng.expovariate(1 / mean)) if mean else 0
        for _ in range(n):
            pid = next(self.ids)
            when = self.after(opened, 72)
            self.out.add("messages", (repo_id, pid, number, self.node("IC", pid), self.text(200), actor().cntrb_id,
                                      self.rng.choice(ASSOCIATIONS), f"{url}/issues/{number}#c{pid}", when, when))
        return n

    def event(self, repo_id: int, number: int, is_pull: bool, event: str, actor: Person, when: datetime,
              label: str | None = None, assignee: Person | None = None) -> None:
        pid = next(self.ids)
        self.out.add("issue_events", (repo_id, pid, number, is_pull, self.node("E", pid), event, actor.cntrb_id, when,
                                      None, label, assignee.cntrb_id if assignee else None))

    def labels(self, table: str, key: int, repo_id: int, number: int, is_pull: bool, opened: datetime,
               actor: Person, label_ids: dict[str, int]) -> None:
        for label in {self.rng.choice(LABELS) for _ in range(int(self.rng.expovariate(1 / 0.9)))}:
            self.out.add(table, (key, label, "d73a4a", f"{label} label", label_ids[label]))
            self.event(repo_id, number, is_pull, "labeled", actor, self.after(opened, 12), label=label)

    def issue(self, repo_id: int, url: str, number: int, opened: datetime, actor: _Draw, maintainers: list[Person],
              counts: dict[str, int], label_ids: dict[str, int]) -> None:
        rng = self.rng
        issue_id = next(self.issue_ids)
        author = actor()
        closed = rng.random() < 0.7
        closed_at = self.after(opened, 24 * 20) if closed else None
        closer = rng.choice(maintainers) if closed and rng.random() < 0.7 else (author if closed else None)
        n_comments = self.comments(repo_id, url, number, opened, 2.5, actor)
        pid = next(self.ids)
        self.out.add("issues", (
            issue_id, repo_id, pid, number, self.node("I", pid), self.text(50), self.text(500),
            "closed" if closed else "open", "completed" if closed else None, False, author.cntrb_id,
            closer.cntrb_id if closer else None, n_comments, f"{url}/issues/{number}", opened,
            closed_at or opened, closed_at))
        counts["closed_issues" if closed else "open_issues"] += 1
        triager = rng.choice(maintainers)
        self.labels("issue_labels", issue_id, repo_id, number, False, opened, triager, label_ids)
        if rng.random() < 0.2:
            assignee = rng.choice(maintainers)
            self.out.add("issue_assignees", (issue_id, assignee.cntrb_id))
            self.event(repo_id, number, False, "assigned", triager, self.after(opened, 24), assignee=assignee)
        if closer is not None and closed_at is not None:
            self.event(repo_id, number, False, "closed", closer, closed_at)

    def pull(self, repo_id: int, url: str, number: int, opened: datetime, actor: _Draw, maintainers: list[Person],
             bots: list[Person], authored: list[tuple[str, str, Person | None, datetime]],
             by_email: dict[str, Person], file_draw: _Draw, counts: dict[str, int],
             label_ids: dict[str, int]) -> None:
        rng, out = self.rng, self.out
        pr_id = next(self.pull_ids)
        author = rng.choice(bots) if bots and rng.random() < 0.1 else actor()
        fate = rng.random()
        merged = fate < 0.65
        closed = fate < 0.8
        closed_at = self.after(opened, 24 * 5) if closed else None
        merged_at = closed_at if merged else None
        merger = (author if rng.random() < 0.15 else rng.choice(maintainers)) if merged else None
        n_files = 1 + int(rng.expovariate(1 / 2.5))
        paths = {file_draw() for _ in range(n_files)}
        for path in paths:
            out.add("pr_files", (repo_id, number, path, None, rng.choice(("modified", "added", "modified")),
                                 int(rng.expovariate(1 / 30)), int(rng.expovariate(1 / 10))))
        # Its commits: some of the repository's, as GitHub attributes them (account of the address).
        commits = [authored[rng.randrange(len(authored))] for _ in range(1 + int(rng.expovariate(1 / 1)))]
        for sha, email, _, when in {c[0]: c for c in commits}.values():
            person = by_email.get(email)
            pc_id = person.cntrb_id if person else None
            out.add("pr_commits", (repo_id, number, sha, self.text(60), person.name if person else email, email, when,
                                   person.name if person else email, email, when, pc_id, pc_id,
                                   int(rng.expovariate(1 / 25)), int(rng.expovariate(1 / 10))))
        n_reviews = 0
        for _ in range(int(rng.expovariate(1 / 2.0))):
            reviewer = rng.choice(maintainers) if rng.random() < 0.6 else actor()
            review_id = next(self.ids)
            when = self.after(opened, 24)
            n_reviews += 1
            out.add("reviews", (repo_id, review_id, number, self.node("PRR", review_id), rng.choice(REVIEW_STATES),
                                reviewer.cntrb_id, rng.choice(ASSOCIATIONS), self.text(80), self.sha(),
                                f"{url}/pull/{number}#r{review_id}", when))
            for _ in range(int(rng.expovariate(1 / 1.0))):
                cid = next(self.ids)
                cwhen = self.after(when, 2)
                out.add("review_comments", (
                    repo_id, cid, number, self.node("PRRC", cid), review_id, None, rng.choice(sorted(paths)),
                    "@@ -1,4 +1,6 @@", rng.randrange(1, 400), None, None, None, self.text(150), reviewer.cntrb_id,
                    rng.choice(ASSOCIATIONS), f"{url}/pull/{number}#rc{cid}", cwhen, cwhen))
        self.comments(repo_id, url, number, opened, 2.0, actor)
        pid = next(self.ids)
        out.add("pull_requests", (
            pr_id, repo_id, pid, number, self.node("PR", pid), self.text(50), self.text(400),
            "closed" if closed else "open", False, False, author.cntrb_id, rng.choice(ASSOCIATIONS),
            f"{url}/pull/{number}", opened, closed_at or opened, closed_at, merged_at,
            self.sha() if merged else None, f"feature-{number}", self.sha(), f"{author.login}/fork", "main",
            self.sha(), merger.cntrb_id if merger else None, n_reviews, len(commits), len(paths)))
        triager = rng.choice(maintainers)
        self.labels("pull_request_labels", pr_id, repo_id, number, True, opened, triager, label_ids)
        if rng.random() < 0.15:
            assignee = rng.choice(maintainers)
            out.add("pull_request_assignees", (pr_id, assignee.cntrb_id))
            self.event(repo_id, number, True, "assigned", triager, self.after(opened, 24), assignee=assignee)
        if rng.random() < 0.3:
            out.add("pull_request_reviewers", (pr_id, rng.choice(maintainers).cntrb_id))
        if merger is not None and merged_at is not None:
            self.event(repo_id, number, True, "merged", merger, merged_at)
            self.event(repo_id, number, True, "closed", merger, merged_at)
            counts["merged_pulls"] += 1
        elif closed_at is not None:
            self.event(repo_id, number, True, "closed", rng.choice(maintainers + [author]), closed_at)
            counts["closed_pulls"] += 1
        else:
            counts["open_pulls"] += 1

    def run(self, group_ids: Sequence[int]) -> Iterator[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
        people = self.people()
        self.write_people(people)
        yield from self.out.drain(force=True)
        draw_person = _Draw(self.rng, people, zipf(len(people), offset=3.0, exponent=0.8))
        weights = zipf(self.shape.repos, offset=5.0)
        total = sum(weights)
        self.rng.shuffle(weights)  # sizes do not follow repository ids
        for repo_id, weight in enumerate(weights, 1):
            self.repository(repo_id, group_ids[repo_id % len(group_ids)], weight / total, draw_person)
            yield from self.out.drain()
        yield from self.out.drain(force=True)


def generate(shape: Shape, group_ids: Sequence[int]) -> Iterator[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
    """The rows of ``shape``, as (table, columns, rows) chunks in an order the foreign keys accept:
    people first, then repository by repository. Repository ids are 1..``shape.repos``; pure."""
    return _Generator(shape).run(group_ids)


async def load(conn: asyncpg.Connection, shape: Shape) -> dict[str, int]:
    """Write ``shape``'s rows into an empty ``data`` schema with COPY; the row count per table."""
    if await conn.fetchval("SELECT count(*) FROM data.repos"):
        raise RuntimeError("data.repos is not empty: the synthetic data wants a fresh database")
    group_ids = [r[0] for r in await conn.fetch(
        "INSERT INTO data.repo_groups (name) SELECT 'synthetic-' || g FROM generate_series(1, 10) g"
        " RETURNING repo_group_id")]
    counts = dict.fromkeys(ORDER, 0)
    for table, columns, rows in generate(shape, group_ids):
        await conn.copy_records_to_table(table, schema_name="data", columns=columns, records=rows)
        counts[table] += len(rows)
    for table, column in IDENTITIES.items():
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('data.{table}', '{column}'),"
                           f" (SELECT coalesce(max({column}), 0) + 1 FROM data.{table}), false)")
    return counts
