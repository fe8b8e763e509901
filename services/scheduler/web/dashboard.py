"""The dashboard: read-only pages a person takes in at a glance, rendered on the server.

Overview (queues, last hour, failures, quota), repositories (filter and pages), one
repository (phases, errors, rows per entity, latest issues and pull requests) and dead letters.
The numbers come from the same reads as the REST API (:mod:`services.scheduler.web.reads`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from services.scheduler.web import schemas as s
from services.scheduler.web.html import Child, Markup, el, page, table, when
from services.scheduler.web.router import Response


def _num(value: int | None, **attrs: str) -> Markup:
    return el("td", "—" if value is None else value, class_="num", **attrs)


def _state(state: str) -> Markup:
    bad = state in ("error", "retrying", "missing", "blocked", "invalid")
    return el("span", state, class_="bad" if bad else ("ok" if state in ("done", "active") else None))


def _card(label: str, value: int | str, *, bad: bool = False, test_id: str | None = None) -> Markup:
    return el("div", el("b", value, class_="bad" if bad else None, data_testid=test_id), label, class_="card")


def _queues(queues: list[s.QueueStats]) -> Markup:
    rows = [[q.phase, q.waiting, q.in_flight, q.redelivered, "yes" if q.consumer else "no worker yet"] for q in queues]
    return table(["phase", "waiting", "in flight", "redelivered", "worker"], rows)


def _quota(pools: list[s.TokenPool]) -> Markup:
    rows: list[list[Child]] = []
    for pool in pools:
        for b in pool.budgets:
            rows.append([pool.server, b.token, b.bucket, "unknown yet" if b.remaining is None else b.remaining,
                         when(b.reset_at), "active" if b.active else "refused (401)"])
    return table(["API", "token", "bucket", "remaining", "resets", "state"], rows,
                 empty="No collector has reported its token pools yet.")


def overview_page(view: s.Overview) -> Response:
    waiting = sum(q.waiting for q in view.queues)
    running = sum(q.in_flight for q in view.queues)
    ok = sum(t.ok for t in view.last_hour)
    failed = sum(t.failed for t in view.last_hour)
    cards = el("div",
               _card("repositories", sum(view.repos.values()), test_id="repos"),
               _card("jobs waiting", waiting, test_id="waiting"),
               _card("jobs running", running, test_id="running"),
               _card("jobs done, last hour", ok, test_id="done-hour"),
               _card("jobs failed, last hour", failed, bad=failed > 0, test_id="failed-hour"),
               _card("phases failing", view.failing, bad=view.failing > 0, test_id="failing"),
               _card("dead letters", view.dead_letters_in_stream, bad=view.dead_letters_in_stream > 0,
                     test_id="dead-letters"),
               class_="cards")
    states = table(["state", "repositories"], [[el("a", st, href=f"/repos?state={st}"), n]
                                               for st, n in view.repos.items()], empty="No repositories yet.")
    hour = table(["phase", "done", "failed"], [[t.phase, t.ok, t.failed] for t in view.last_hour],
                 empty="No job finished in the last hour.")
    return page("Overview", cards,
                el("h2", "Work queues"), _queues(view.queues),
                el("h2", "Last hour"), hour,
                el("h2", "Repositories by state"), states,
                el("h2", "API quota"), _quota(view.quota))


def _link(query: s.RepoQuery, **changes: object) -> str:
    values = {"state": query.state, "platform": query.platform, "group_id": query.group_id, "q": query.q,
              "limit": query.limit, "offset": query.offset, **changes}
    return "/repos?" + urlencode({k: v for k, v in values.items() if v is not None})


def repos_page(result: s.RepoPage, query: s.RepoQuery) -> Response:
    states = ["", "active", "missing", "blocked", "invalid", "removed"]
    form = el("form",
              el("input", type="search", name="q", value=query.q or "", placeholder="part of the URL"),
              el("select", *(el("option", st or "any state", value=st, selected=st == (query.state or ""))
                             for st in states), name="state"),
              el("input", type="submit", value="Filter"), method="get", action="/repos")
    rows = []
    for repo in result.items:
        phases = [el("span", f"{p.phase}: ", _state(p.state), " ") for p in repo.phases]
        rows.append([el("a", repo.url, href=f"/repos/{repo.repo_id}"), repo.group, _state(repo.state),
                     repo.priority, phases or "not scheduled yet"])
    pager: list[Child] = [f"{result.offset + 1 if result.items else 0}–{result.offset + len(result.items)}"
                          f" of {result.total:,} "]
    if result.offset > 0:
        pager.append(el("a", "previous", href=_link(query, offset=max(0, result.offset - result.limit))))
    if result.offset + len(result.items) < result.total:
        pager.append(" ")
        pager.append(el("a", "next", href=_link(query, offset=result.offset + result.limit)))
    return page("Repositories", form,
                table(["repository", "group", "state", "priority", "phases"], rows, empty="No repository matches."),
                el("p", *pager))


def repo_page(detail: s.RepoDetail, recent: dict[str, list[dict[str, object]]]) -> Response:
    repo = detail.repo
    facts = table(None, [["URL", el("a", repo.url, href=detail.html_url or repo.url, rel="noreferrer")],
                             ["platform", f"{repo.platform} ({repo.host})"], ["group", repo.group],
                             ["state", _state(repo.state)], ["state reason", detail.state_reason or "—"],
                             ["priority", repo.priority], ["registered", when(repo.registered_at)],
                             ["description", detail.description or "—"]])
    phase_rows = [[p.phase, _state(p.state), p.attempt, when(p.started_at), when(p.last_collected), when(p.next_due),
                   p.requests, p.last_error or "—"] for p in detail.phases]
    phases = table(["phase", "state", "attempt", "started", "last success", "next due", "requests", "last error"],
                   phase_rows, empty="No job has been dispatched yet.")
    counts = el("table", el("thead", el("tr", el("th", "entity"), el("th", "rows"))),
                el("tbody", [el("tr", el("td", name), _num(n, data_entity=name)) for name, n in detail.rows.items()]),
                id="rows")
    sections: list[Child] = [facts, el("h2", "Collection"), phases, el("h2", "Rows per entity"), counts]
    for kind, label in (("issues", "Latest issues"), ("pull_requests", "Latest pull requests")):
        items = recent.get(kind, [])
        sections += [el("h2", label), table(
            ["#", "title", "state", "author", "updated"],
            [[item["number"], el("span", item["title"] or "", class_="title"), item["state"] or "",
              item["login"] or "", when(item["updated_at"])] for item in items],  # type: ignore[arg-type]
            empty="None collected.", id=kind)]
    return page(repo.url, *sections)


def dead_letters_page(result: s.DeadLetterPage) -> Response:
    rows = [[d.dead_letter_id, when(d.failed_at), d.subject,
             el("a", d.repo_id, href=f"/repos/{d.repo_id}") if d.repo_id else "—", d.error, d.payload_bytes]
            for d in result.items]
    note = el("p", f"{result.in_stream:,} message(s) in the DEADLETTER stream (failed jobs included);"
                   f" {result.total:,} recorded by the processor, the newest {len(result.items)} shown.")
    return page("Dead letters", note, table(["id", "failed", "subject", "repository", "error", "bytes"], rows,
                                            empty="No dead letters."))


def leaderboard_page(board: s.LeaderboardView) -> Response:
    rows = [[e.rank, e.login or e.name or "—", e.points, e.counts["commits"], e.counts["prs_opened"],
             e.counts["prs_merged"], e.counts["prs_reviewed"], e.counts["issues_opened"], e.counts["issues_closed"],
             e.counts["comments"], e.counts["releases"], e.line_points] for e in board.entries]
    title = "Leaderboard" + ("" if board.repo_id is None else f": {board.scope}")
    note = el("p", f"From {board.since:%Y-%m-%d} to {board.until:%Y-%m-%d}; bots left out unless asked for"
                   " (include_bots=true). ",
              el("a", "global", href="/leaderboard/global") if board.repo_id is not None else None)
    return page(title, note, table(
        ["rank", "contributor", "points", "commits", "PRs opened", "PRs merged", "PRs reviewed", "issues opened",
         "issues closed", "comments", "releases", "line points"], rows, empty="Nobody did anything in this window.",
        id="leaderboard"))


def not_found_page(what: str) -> Response:
    return page("Not found", el("p", what), el("p", el("a", "Back to the overview", href="/")), status=404)

