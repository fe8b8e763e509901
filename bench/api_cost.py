"""GitHub API cost of a collection: requests spent against the floor, then an idle second pass.

    python -m bench.api_cost [--issues 2000] [--pulls 500] [--issue-comments 4000]
                             [--review-comments 1000] [--events 5000] [--big-prs 3]
                             [--big-pr-size 250] [--seed 1]

1. Generates one repository (seeded) and serves it from a FakeForge that requires a token, with
   a small git repository for the facade (its ``/git/...`` requests are not API requests).
2. Starts an embedded NATS + PostgreSQL (temporary data dir) and the whole pipeline in this
   process, on the fake forge as GitHub.
3. Full collection: the first collection of the repository (nothing stored yet: no cursors,
   no ETags). Every API request the forge logs is counted (retries, redirects and 304s
   included).
4. Second collection, not full, nothing changed on the forge: counts the requests that cost
   quota, i.e. REST answers other than 304 (a 304 to a request with a token is free on GitHub)
   plus GraphQL requests (each costs at least one point of the separate GraphQL budget).
5. Unless ``--no-recollect``: a full resync (``full=True``, as ``watershed recollect``), reported
   beside the first, since it ignores what is stored and should cost the same.

Baselines, from the served repository's actual contents (I issues, P pull requests, Ci issue
comments, Cr review comments, E issue events):

    floor = B + ceil(P/50) + X
    B     = ceil(I/100) + ceil(P/100) + ceil(Ci/100) + ceil(Cr/100) + ceil(E/100) + H
    H     = the single-object and small-list calls the collector makes (see SMALL_REST and
            ``graphql_kind``), counted, but at most HANDFUL_CAP in the floor
    X     = per pull request and per kind (reviews, commits, files): one request for each
            further 100 children beyond its first 100

and the Augur/Aveloxis-style estimate, 2 requests per issue + 8 per pull request.
Targets: full collection at most 1.25 x floor, with every kind the floor counts collected (rows
in its table: a collector that skips reviews is cheap, not efficient); second collection at most
10 charged requests.

The last line of output is one JSON object (``requests``, ``floor``, ``ratio_vs_floor``,
``idle_charged_requests``...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from shared.embedded import EmbeddedStack
from shared.fakeforge import FakeForge, RepoData, create_sample_git_repo, generate_dataset
from shared.logging import configure_logging
from shared.settings import Secret, load_settings
from watershed.client import request_collection, wait_for_jobs
from watershed.pipeline import Pipeline

OWNER, NAME = "bench-owner", "api-cost"
TOKEN = "bench-api-cost-token"
PAGE = 100  # GitHub's per_page maximum
PRS_PER_QUERY = 50  # pull requests whose children one GraphQL query can fetch
HANDFUL_CAP = 10  # the floor allows at most this many single-object and small-list calls
FULL_TARGET = 1.25  # x floor
IDLE_TARGET = 10  # charged requests
ROOT = Path(__file__).resolve().parent.parent

_REPO_PATH = re.compile(r"^/(?:repos/[^/]+/[^/]+|repositories/\d+)(?P<rest>/.*)?$")
# Repository-level bulk lists, one request per 100 items in the floor.
BULK_LISTS = {"/issues": "issues", "/pulls": "pull requests", "/issues/comments": "issue comments",
              "/pulls/comments": "review comments", "/issues/events": "issue events"}
# The "handful": one object, or a list that is small whatever the repository's size.
SMALL_REST = {"": "repo", "/community/profile": "community profile", "/contents/": "contents",
              "/releases": "releases", "/contributors": "contributors", "/traffic/": "traffic",
              "/languages": "languages", "/topics": "topics", "/tags": "tags", "/license": "license",
              "/readme": "readme"}
_PER_ITEM = re.compile(r"^/(?:pulls|issues)/\d+(?:/|$)")
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(\w+)", re.MULTILINE)


def rest_kind(path: str) -> str:
    """What a REST request was for: ``list:...``, ``per-item``, ``small:...`` or ``other``."""
    if path.startswith("/orgs/") and path.rstrip("/").endswith("/members"):
        return "small:org members"
    match = _REPO_PATH.match(path.rstrip("/"))
    if match is None:
        return "other"
    rest = match["rest"] or ""
    if rest in BULK_LISTS:
        return f"list:{BULK_LISTS[rest]}"
    if _PER_ITEM.match(rest):
        return "per-item"
    if rest.startswith("/commits/"):
        return "resolver:commit author"  # the resolver: who a commit's email belongs to
    for prefix, label in SMALL_REST.items():
        if rest == prefix or (prefix.endswith("/") and rest.startswith(prefix)):
            return f"small:{label}"
    return "other"


def graphql_kind(body: bytes) -> tuple[str, bool]:
    """(operation name, whether it is a small call). A query that takes a page cursor
    (``$after``) or asks for nodes by id (children of pull requests) is not small."""
    try:
        query = json.loads(body or b"{}").get("query") or ""
    except (ValueError, AttributeError):
        return "unparsable", False
    match = _OPERATION.search(query)
    name = match.group(1) if match else "anonymous"
    paged = "$after" in query or "nodes(ids" in query or "node(id" in query
    return name, not paged


class CountingForge(FakeForge):
    """The fake forge, plus what its request log lacks: which GraphQL operation each POST
    was and the GraphQL points spent (the highest ``x-ratelimit-used`` of the bucket)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operations: list[tuple[str, bool]] = []
        self.graphql_points = 0
        self._ops_lock = threading.Lock()

    def handle(self, method: str, path: str, query: list[tuple[str, str]], token: str | None,
               client: str, if_none_match: str | None, body: bytes = b"") -> Any:
        reply = super().handle(method, path, query, token, client, if_none_match, body=body)
        if method == "POST" and path.rstrip("/") in ("/graphql", "/api/graphql"):
            used = reply.headers.get("x-ratelimit-used", "0")
            with self._ops_lock:
                self.operations.append(graphql_kind(body))
                self.graphql_points = max(self.graphql_points, int(used))
        return reply


@dataclass
class Mark:
    log: int
    ops: int
    points: int


@dataclass
class Pass:
    """The API requests of one collection pass, from the forge's side."""

    seconds: float
    requests: int = 0
    rest: int = 0
    graphql: int = 0
    graphql_points: int = 0
    not_modified: int = 0
    rest_charged: int = 0
    small: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    collector_reported: dict[str, int] = field(default_factory=dict)

    @property
    def charged(self) -> int:
        return self.rest_charged + self.graphql


def mark(forge: CountingForge) -> Mark:
    return Mark(len(forge.requests), len(forge.operations), forge.graphql_points)


def measure(forge: CountingForge, since: Mark, seconds: float) -> Pass:
    result = Pass(seconds)
    for record in forge.requests[since.log:]:
        if record.path.startswith("/git/"):
            continue  # the facade's dumb-HTTP git fetches: not API requests
        result.requests += 1
        if record.path.rstrip("/") in ("/graphql", "/api/graphql"):
            result.graphql += 1
            continue
        result.rest += 1
        kind = rest_kind(record.path)
        result.kinds[f"{kind} {record.status}" if record.status >= 300 else kind] += 1
        if record.status == 304:
            result.not_modified += 1
        else:
            result.rest_charged += 1
        result.small += kind.startswith("small:")
    for name, small in forge.operations[since.ops:]:
        result.kinds[f"{'small:' if small else ''}graphql {name}"] += 1
        result.small += small
    result.graphql_points = forge.graphql_points - since.points
    return result


# ------------------------------------------------------------------ the repository


def make_dataset(args: argparse.Namespace) -> tuple[Any, list[str]]:
    """The generated repository; and the flags the current generator does not take (ignored)."""
    items = max(1, args.issues + args.pulls)
    wanted: dict[str, Any] = {
        "n_users": args.users, "n_issues": args.issues, "n_pulls": args.pulls,
        "n_comments": args.issue_comments, "n_review_comments": args.review_comments,
        # randint(0, 2m) averages m events per issue or pull request
        "events_per_issue": (0, round(2 * args.events / items)),
        "big_prs": args.big_prs, "big_pr_size": args.big_pr_size,
    }
    accepted = inspect.signature(generate_dataset).parameters
    ignored = [key for key in wanted if key not in accepted]
    kwargs = {key: value for key, value in wanted.items() if key in accepted}
    return generate_dataset(args.seed, OWNER, NAME, **kwargs), ignored


@dataclass(frozen=True)
class Shape:
    issues: int
    pulls: int
    issue_comments: int
    review_comments: int
    events: int
    extra_children: int  # X
    big_prs: int
    reviews: int
    pr_commits: int
    pr_files: int

    @classmethod
    def of(cls, repo: RepoData) -> Shape:
        by_pull = [getattr(repo, part, {}) for part in ("reviews", "pr_commits", "pr_files")]
        extra = sum(math.ceil(max(0, len(children) - PAGE) / PAGE)
                    for part in by_pull for children in part.values())
        big = {number for part in by_pull for number, children in part.items() if len(children) > PAGE}
        return cls(issues=len(repo.plain_issues), pulls=len(repo.pulls),
                   issue_comments=len(repo.comments),
                   review_comments=len(getattr(repo, "review_comments", [])),
                   events=len(getattr(repo, "issue_events", [])), extra_children=extra,
                   big_prs=len(big), **{part: sum(map(len, children.values()))
                                        for part, children in zip(("reviews", "pr_commits", "pr_files"), by_pull, strict=True)})

    def floor(self, handful: int) -> int:
        lists = sum(math.ceil(n / PAGE) for n in (self.issues, self.pulls, self.issue_comments,
                                                   self.review_comments, self.events))
        return lists + min(handful, HANDFUL_CAP) + math.ceil(self.pulls / PRS_PER_QUERY) \
            + self.extra_children

    @property
    def augur(self) -> int:
        return 2 * self.issues + 8 * self.pulls


# ------------------------------------------------------------------ running


async def collect(pipeline: Pipeline, forge: CountingForge, url: str, *, full: bool,
                  timeout: float) -> Pass:
    before = mark(forge)
    started = time.perf_counter()
    requested_at = datetime.now(UTC)
    reply = await request_collection(pipeline.servers.nats_url, [url], dispatch=True, full=full)
    (target,) = reply.targets
    if target.error:
        raise RuntimeError(f"collection of {url} was refused: {target.error}")
    await wait_for_jobs(pipeline.servers.database_url, reply, timeout=timeout, requested_at=requested_at)
    result = measure(forge, before, time.perf_counter() - started)
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM ops.collection_status WHERE repo_id = $1 AND phase = 'collector'",
                                  target.repo_id)
    finally:
        await conn.close()
    if row is None or row["state"] != "done":
        raise RuntimeError(f"the collector job ended {row['state'] if row else 'nowhere'}:"
                           f" {row['last_error'] if row else ''}")
    result.collector_reported = {key: row[key] for key in ("requests", "requests_graphql", "not_modified", "charged")
                                 if key in row.keys()}
    return result


# What the floor assumes a full collection brings home: data table -> served count (Shape field).
# The ratio is only meaningful when each one arrived; a collector that skips a kind is cheap.
COVERAGE = {"issues": "issues", "pull_requests": "pulls", "messages": "issue_comments",
            "review_comments": "review_comments", "issue_events": "events", "reviews": "reviews",
            "pr_commits": "pr_commits", "pr_files": "pr_files"}


async def count_rows(dsn: str) -> dict[str, int | None]:
    conn = await asyncpg.connect(dsn)
    try:
        rows: dict[str, int | None] = {}
        for table in COVERAGE:
            exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"data.{table}")
            rows[table] = await conn.fetchval(f"SELECT count(*) FROM data.{table}") if exists else None
        return rows
    finally:
        await conn.close()


def source_state() -> dict[str, object]:
    """The commit measured, and whether the collector's code differs from it (work in progress)."""
    def git(*argv: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    code = ("services/collector", "shared/forge")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "collector_commit": git("log", "-1", "--format=%h", "--", *code),
            "collector_uncommitted": bool(git("status", "--porcelain", "--", *code))}


async def bench(args: argparse.Namespace) -> dict[str, object]:
    made = time.perf_counter()
    dataset, ignored = make_dataset(args)
    repo = dataset.find(f"{OWNER}/{NAME}")
    assert repo is not None
    shape = Shape.of(repo)
    made = time.perf_counter() - made
    tmp = Path(tempfile.mkdtemp(prefix="watershed-bench-"))
    # A budget no collection here can exhaust: the bench counts requests, it does not wait for resets.
    forge = CountingForge(dataset, tokens={TOKEN}, rate_limit=10**8)
    forge.graphql_rate_limit = 10**8
    stack = EmbeddedStack(tmp / "servers")
    try:
        forge.start()
        forge.add_git_repo(f"{OWNER}/{NAME}", create_sample_git_repo(tmp / "git" / "sample"))
        info = await stack.start()
        settings = load_settings({}, data_dir=tmp / "data", nats_url=info.nats_url, database_url=info.database_url,
                                 github_api_url=forge.base_url, github_git_url=f"{forge.base_url}/git",
                                 github_tokens=(Secret(TOKEN),), facade_allow_local=True, scheduler_tick_s=0.2,
                                 job_max_deliver=1, retry_interval_s=3600)
        url = f"https://github.com/{OWNER}/{NAME}"
        print(f"generated {OWNER}/{NAME} in {made:.1f} s: {shape.issues} issues, {shape.pulls} pull requests,"
              f" {shape.issue_comments} issue comments, {shape.review_comments} review comments,"
              f" {shape.events} issue events, {shape.big_prs} pull requests with more than {PAGE} children"
              + (f" (this generator ignores {', '.join(ignored)})" if ignored else ""))
        async with Pipeline(settings, http_port=0) as pipeline:
            # A repository never seen: nothing stored, so its first collection is a full one.
            # (Asked with full=True, it would run twice: the registration dispatches its own job.)
            full = await collect(pipeline, forge, url, full=False, timeout=args.timeout)
            rows = await count_rows(info.database_url)
            idle = await collect(pipeline, forge, url, full=False, timeout=args.timeout)
            resync = await collect(pipeline, forge, url, full=True, timeout=args.timeout) if args.recollect else None
    finally:
        forge.close()
        await stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    if rows["issues"] != shape.issues or rows["pull_requests"] != shape.pulls:
        raise RuntimeError(f"the tables hold {rows}; the forge serves {shape.issues} issues, {shape.pulls} pulls")
    served = {table: getattr(shape, attr) for table, attr in COVERAGE.items()}
    missing = sorted(table for table, n in served.items() if n and not rows[table])
    floor = shape.floor(full.small)
    return {
        "bench": "api_cost", "date": datetime.now(UTC).date().isoformat(), **source_state(),
        "requests": full.requests, "floor": floor, "ratio_vs_floor": round(full.requests / floor, 3),
        "idle_charged_requests": idle.charged,
        "rest": full.rest, "graphql": full.graphql, "graphql_points": full.graphql_points,
        "not_modified": full.not_modified, "charged": full.charged,
        "handful": full.small, "handful_in_floor": min(full.small, HANDFUL_CAP),
        "extra_children_requests": shape.extra_children,
        "augur_estimate": shape.augur, "ratio_vs_augur": round(full.requests / shape.augur, 3),
        "issues": shape.issues, "pulls": shape.pulls, "issue_comments": shape.issue_comments,
        "review_comments": shape.review_comments, "events": shape.events, "big_prs": shape.big_prs,
        "seed": args.seed, "ignored_flags": ignored,
        "not_collected": missing,
        "targets_met": {"full": full.requests <= FULL_TARGET * floor and not missing,
                        "idle": idle.charged <= IDLE_TARGET},
        "full_pass": _pass_json(full), "idle_pass": _pass_json(idle), "rows": rows, "served": served,
        "recollect_requests": resync.requests if resync else None,
        "recollect_pass": _pass_json(resync) if resync else None,
    }


def _pass_json(p: Pass) -> dict[str, object]:
    return {"seconds": round(p.seconds, 2), "requests": p.requests, "rest": p.rest, "graphql": p.graphql,
            "graphql_points": p.graphql_points, "not_modified": p.not_modified, "charged": p.charged,
            "by_kind": dict(sorted(p.kinds.items())), "collector_reported": p.collector_reported}


def summary(result: dict[str, Any]) -> list[str]:
    full, idle = result["full_pass"], result["idle_pass"]
    met = result["targets_met"]
    kinds = ", ".join(f"{k} {v}" for k, v in full["by_kind"].items())
    idle_kinds = ", ".join(f"{k} {v}" for k, v in idle["by_kind"].items()) or "none"
    return [
        f"measured:        collector as of {result['collector_commit']}"
        + (" plus uncommitted changes" if result["collector_uncommitted"] else ""),
        f"full collection: {result['requests']} API requests in {full['seconds']} s ({result['rest']} REST,"
        f" {result['graphql']} GraphQL = {result['graphql_points']} points, {result['not_modified']} not modified)",
        f"  by kind: {kinds}",
        f"floor:           {result['floor']} (lists of 100, {result['handful_in_floor']} of {result['handful']}"
        f" small calls, ceil(P/50) = {math.ceil(result['pulls'] / PRS_PER_QUERY)},"
        f" X = {result['extra_children_requests']})",
        "rows:            " + ", ".join(f"{t} {result['rows'][t]}/{n}" for t, n in result["served"].items())
        + " (collected/served)",
        f"ratio:           {result['ratio_vs_floor']} x floor (target <= {FULL_TARGET}:"
        f" {'met' if met['full'] else 'NOT met'}"
        + (f"; NOT collected at all: {', '.join(result['not_collected'])}" if result["not_collected"] else "") + ")",
        f"augur estimate:  {result['augur_estimate']} (2/issue + 8/PR) = {result['augur_estimate'] / result['floor']:.1f}"
        f" x floor; this run spent {result['ratio_vs_augur']} of it",
        f"second pass:     {idle['requests']} requests in {idle['seconds']} s, {idle['not_modified']} free 304s,"
        f" {result['idle_charged_requests']} charged (target <= {IDLE_TARGET}:"
        f" {'met' if met['idle'] else 'NOT met'}); by kind: {idle_kinds}",
    ] + ([] if result["recollect_pass"] is None else [
        f"recollect:       {result['recollect_requests']} requests in {result['recollect_pass']['seconds']} s"
        f" (full resync after the second pass; {result['recollect_pass']['charged']} charged)"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--issues", type=int, default=2000, help="I: issues, pull requests not included")
    parser.add_argument("--pulls", type=int, default=500, help="P: pull requests")
    parser.add_argument("--issue-comments", type=int, default=4000, help="Ci: issue and PR conversation comments")
    parser.add_argument("--review-comments", type=int, default=1000,
                        help="Cr: review comments, besides the big pull requests' (default 1000)")
    parser.add_argument("--events", type=int, default=5000, help="E: issue events, roughly (default 5000)")
    parser.add_argument("--big-prs", type=int, default=3, help="pull requests with --big-pr-size reviews, commits,"
                                                              " files and review comments each (default 3)")
    parser.add_argument("--big-pr-size", type=int, default=250, help="default 250")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-recollect", dest="recollect", action="store_false",
                        help="skip the third pass (a full resync, as `watershed recollect`)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up on a pass after this many seconds")
    args = parser.parse_args(argv)
    configure_logging("warning")
    result = asyncio.run(bench(args))
    for line in summary(result):
        print(line)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
