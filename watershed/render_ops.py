"""Terminal output of the control-plane commands (rich tables, or JSON for scripts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table

from shared.events import v1
from watershed.control import DeadLetterLine, GroupLine, QueueView
from watershed.render import escape
from watershed.timespec import format_duration


def plain(value: Any) -> Any:
    """Structs as dicts with every field, defaults included: scripts read ``"created": false``
    rather than guess what a missing key means (the wire format omits defaults)."""
    if isinstance(value, msgspec.Struct):
        return {k: plain(v) for k, v in msgspec.structs.asdict(value).items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def print_json(console: Console, value: Any) -> None:
    console.print_json(msgspec.json.encode(plain(value)).decode(), highlight=False)


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _table(*columns: str) -> Table:
    table = Table(show_edge=False)
    for column in columns:
        table.add_column(column)
    return table


def settings_reply(console: Console, reply: v1.SettingsReply) -> None:
    for t in reply.targets:
        if t.error:
            continue
        what = escape(t.url) if t.repo_id is not None else f"group {escape(t.group)}"
        priority = "inherited" if t.priority is None else str(t.priority)
        interval = "inherited" if t.recollect_interval_s is None else format_duration(t.recollect_interval_s)
        console.print(f"{what}: priority {priority}, recollect every {interval}")


def prioritized(console: Console, reply: v1.CollectReply) -> None:
    for t in reply.targets:
        if not t.error:
            console.print(f"at the front of the queue: {escape(t.url)} (repo {t.repo_id})")


def orgs(console: Console, reply: v1.AddOrgReply, listed: list[GroupLine] | None) -> None:
    by_source = {g.source: g for g in listed or []}
    for t in reply.targets:
        if t.error:
            continue
        word = "following" if t.created else "already following"
        line = f"{word} {escape(t.url)} in group {escape(t.group)}"
        group = by_source.get(t.url)
        if group is not None and group.last_changes:
            line += f": {escape(group.last_changes)}"
        if group is not None and group.listing_error:
            line += f" [red](listing failed: {escape(group.listing_error)})[/]"
        console.print(line)


def queue(console: Console, view: QueueView) -> None:
    phases = sorted(set(view.in_flight) | set(view.due_now))
    summary = ", ".join(f"{p}: {view.in_flight.get(p, 0)} in flight, {view.due_now.get(p, 0)} due" for p in phases)
    console.print(summary or "nothing queued or running")
    if not view.next:
        return
    table = _table("#", "repo", "phase", "priority", "due", "failures")
    for i, line in enumerate(view.next, 1):
        priority = f"{line.priority} [bold](urgent)[/]" if line.urgent else str(line.priority)
        table.add_row(str(i), escape(line.url), line.phase, priority, _when(line.due), str(line.failures or ""))
    console.print(table)


def groups(console: Console, lines: list[GroupLine]) -> None:
    table = _table("group", "repos", "active", "priority", "recollect", "follows", "last listing")
    for g in lines:
        listing = "-"
        if g.source:
            listing = f"{_when(g.listed_at)} {escape(g.last_changes or '')}".strip()
            if g.listing_error:
                listing += f" [red]{escape(g.listing_error)}[/]"
        table.add_row(escape(g.name), str(g.repos), str(g.active), "-" if g.priority is None else str(g.priority),
                      format_duration(g.recollect_interval_s), escape(g.source or "-"), listing)
    console.print(table)


def dead_letters(console: Console, lines: list[DeadLetterLine]) -> None:
    if not lines:
        console.print("no dead letters")
        return
    table = _table("id", "kind", "repository", "phase", "error", "attempts", "failed", "next retry", "retried")
    for d in lines:
        what = d.repo or d.task or d.subject
        table.add_row(str(d.id), d.kind, escape(what or "-"), d.phase or "-", escape(d.error[:200]),
                      str(d.attempts or "-"), _when(d.failed_at), _when(d.next_retry),
                      _when(d.retried_at) + (" (resolved)" if d.resolved_at else ""))
    console.print(table)


def retried(console: Console, reply: v1.DeadLetterRetryReply) -> None:
    for r in reply.retried:
        if r.error:
            continue
        target = f"job {r.job_id}" if r.job_id else f"the processor ({escape(r.subject)})"
        console.print(f"dead letter {r.dead_letter_id}: handed to {target}")


def replayed(console: Console, result: v1.ReplayProgress, seconds: float) -> None:
    for t in result.repos:
        if not t.error:
            console.print(f"{escape(t.url or t.input)}: {t.messages} messages")
    console.print(f"[bold]replayed {result.messages_done} of {result.messages_total} messages in {seconds:.1f}s[/]")
