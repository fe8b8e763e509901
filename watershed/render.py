"""Terminal output of ``collect``, ``status`` and ``leaderboard`` (rich tables, or JSON)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

from rich.console import Console
from rich.markup import escape as _escape
from rich.table import Table

from shared.leaderboard import Entry
from watershed.report import CloneReport, RepoReport, to_json

ENTITIES = ("issues", "pull_requests", "issue_comments", "review_comments", "reviews", "issue_events", "pr_commits",
            "pr_files", "labels", "releases", "contributors", "commits", "commit_files")


def escape(text: str) -> str:
    """Forge text and URLs must never be read as rich markup."""
    return _escape(text)


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def clone_text(clone: CloneReport | None) -> str:
    """One line on the bare clone: state, default branch (or how many branches are read), size."""
    if clone is None:
        return "-"
    parts = [clone.state]
    if clone.all_branches and clone.tracked_refs is not None:
        parts.append(f"{clone.tracked_refs} branches")
    elif clone.default_branch and clone.state != "empty":
        parts.append(clone.default_branch)
    if clone.disk_bytes is not None:
        parts.append(size(clone.disk_bytes))
    if clone.error and clone.state not in ("ok", "empty"):
        parts.append(clone.error)
    return ", ".join(parts)


def summary(console: Console, reports: list[RepoReport], seconds: float, *, as_json: bool) -> None:
    if as_json:
        console.print_json(to_json(reports, {"duration_s": round(seconds, 3)}).decode(), highlight=False)
        return
    for report in reports:
        title = f"{escape(report.url)}" + (f"  (repo {report.repo_id})" if report.repo_id else "")
        table = Table(title=title, title_justify="left", show_edge=False)
        table.add_column("phase")
        table.add_column("state")
        table.add_column("requests", justify="right")
        table.add_column("duration", justify="right")
        table.add_column("error")
        for p in report.phases:
            style = {"error": "red", "retrying": "yellow", "done": "green"}.get(p.state, "")
            table.add_row(p.phase, f"[{style}]{p.state}[/]" if style else p.state, str(p.requests),
                          f"{p.duration_s:.2f}s" if p.duration_s is not None else "-", escape(p.last_error or ""))
        if report.error:
            table.add_row("-", "[red]error[/]", "-", "-", escape(report.error))
        console.print(table)
        if report.rows:
            console.print("  rows: " + ", ".join(f"{k} {report.rows[k]}" for k in ENTITIES if report.rows.get(k)))
        if report.clone is not None:
            console.print("  clone: " + escape(clone_text(report.clone)))
    total_rows = sum(sum(r.rows.values()) for r in reports)
    made = sum(r.requests.get("rest", 0) + r.requests.get("graphql", 0) for r in reports)
    console.print(f"[bold]{len(reports)} repositories, {total_rows} rows, {made} API requests, {seconds:.1f}s[/]")


def status(console: Console, reports: list[RepoReport], *, as_json: bool) -> None:
    if as_json:
        console.print_json(to_json(reports).decode(), highlight=False)
        return
    if not reports:
        console.print("no repositories registered")
        return
    table = Table(show_edge=False)
    for column in ("repo", "state", "phase", "phase state", "last collected", "next due", "last error", "rows",
                   "clone"):
        table.add_column(column)
    for r in reports:
        rows = ", ".join(f"{k} {v}" for k, v in r.rows.items() if v)
        clone = escape(clone_text(r.clone))
        if not r.phases:
            table.add_row(escape(r.url), r.state, "-", "new", "-", "-", "", rows, clone)
        for i, p in enumerate(r.phases):
            table.add_row(escape(r.url) if i == 0 else "", r.state if i == 0 else "", p.phase, p.state,
                          _when(p.last_collected), _when(p.next_due), escape(p.last_error or ""),
                          rows if i == 0 else "", clone if i == 0 else "")
    console.print(table)


def leaderboard(console: Console, scope: str, entries: list[Entry], *, as_json: bool) -> None:
    if as_json:
        rows = [{**dataclasses.asdict(e), "cntrb_id": str(e.cntrb_id) if e.cntrb_id else None} for e in entries]
        console.print_json(json.dumps({"scope": scope, "entries": rows}), highlight=False)
        return
    table = Table(title=f"Leaderboard: {escape(scope)}", title_justify="left", show_edge=False)
    for column, justify in (("rank", "right"), ("contributor", "left"), ("points", "right"), ("commits", "right"),
                            ("PRs", "right"), ("merged", "right"), ("reviewed", "right"), ("issues", "right"),
                            ("closed", "right"), ("comments", "right"), ("releases", "right"), ("lines", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for e in entries:
        c = e.counts
        table.add_row(str(e.rank), escape(e.login or e.name or "-"), f"{e.points:,.2f}", str(c["commits"]),
                      str(c["prs_opened"]), str(c["prs_merged"]), str(c["prs_reviewed"]), str(c["issues_opened"]),
                      str(c["issues_closed"]), str(c["comments"]), str(c["releases"]), f"{e.line_points:,.2f}")
    console.print(table if entries else "nobody did anything in this window")
