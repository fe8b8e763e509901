"""The control-plane commands: organizations and groups, queue settings and order, dead letters,
replay. Registered on the ``watershed`` app by :func:`register` (see cli.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, NoReturn, Optional, TypeVar

import asyncpg
import msgspec
import typer

from shared.errors import WatershedError
from shared.events import subjects, v1
from shared.settings import Settings
from watershed import render, render_ops
from watershed.client import connect_stack, request_collection, validate_urls
from watershed.control import (
    dead_letters,
    groups_view,
    queue_view,
    replay,
    request,
    wait_for_listing,
)
from watershed.progress import bar
from watershed.timespec import parse_duration, parse_since

T = TypeVar("T")

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Data directory (env WATERSHED_DATA_DIR).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
Urls = Annotated[list[str], typer.Argument(help="Repository URLs.")]
Priority = Annotated[Optional[int], typer.Option(help="Queue priority: higher runs first (default 0).")]
Interval = Annotated[Optional[str], typer.Option(help="Recollect interval, e.g. 6h, 1d, 3600 (seconds).")]
InheritPriority = Annotated[bool, typer.Option("--inherit-priority", help="Clear the priority set here.")]
InheritInterval = Annotated[bool, typer.Option("--inherit-interval", help="Clear the interval set here.")]


def register(app: typer.Typer) -> None:
    from watershed import cli as base  # the app's helpers: settings, errors, running coroutines

    def fail_lines(lines: list[str]) -> None:
        for line in lines:
            base.err.print(f"[bold red]error:[/] {render.escape(line)}", soft_wrap=True)

    def settings_request(priority: int | None, interval: str | None, inherit_priority: bool,
                         inherit_interval: bool, **target: object) -> v1.SettingsRequest:
        if priority is None and interval is None and not inherit_priority and not inherit_interval:
            base._fail("nothing to set: give --priority, --interval, --inherit-priority or --inherit-interval", 2)
        try:
            seconds = parse_duration(interval) if interval is not None else None
        except ValueError as exc:
            base._fail(str(exc), 2)
        return v1.SettingsRequest(priority=priority, recollect_interval_s=seconds, inherit_priority=inherit_priority,
                                  inherit_interval=inherit_interval, **target)  # type: ignore[arg-type]

    def ask(settings: Settings, subject: str, body: v1.Struct, decoder: msgspec.json.Decoder[T]) -> T:
        """The scheduler's answer to one request (on the running stack, or one started for it)."""
        async def run() -> T:
            async with connect_stack(settings) as ends:
                return await request(ends.nats_url, subject, body, decoder)

        return base._run(run())

    def finish(reply: object, as_json: bool, show: Callable[[], None], errors: list[str]) -> NoReturn:
        """Print the answer (JSON, or ``show``), one line per error on stderr, and exit 1 on any."""
        if as_json:
            render_ops.print_json(base.out, reply)
        else:
            show()
        fail_lines(errors)
        raise typer.Exit(1 if errors else 0)

    def send_settings(settings: Settings, body: v1.SettingsRequest, as_json: bool) -> None:
        reply = ask(settings, subjects.CONTROL_SETTINGS, body, v1.settings_reply_decoder)
        finish(reply, as_json, lambda: render_ops.settings_reply(base.out, reply),
               [f"{t.input}: {t.error}" for t in reply.targets if t.error])

    @app.command("add-org")
    def add_org(urls: Annotated[list[str], typer.Argument(help="GitHub organization or user URLs, GitLab group URLs.")],
                group: Annotated[Optional[str], typer.Option(help="Group of their repositories"
                                                                   " (default: the account's name).")] = None,
                wait: Annotated[bool, typer.Option(help="Wait until the listing is applied.")] = True,
                timeout: Annotated[float, typer.Option(help="Seconds to wait for the listings.")] = 600.0,
                data_dir: DataDir = None, json: Json = False) -> None:
        """Follow organizations or users (GitHub) or groups with their subgroups (GitLab): their repositories
        are registered in a group, and the group follows new, renamed, transferred and deleted repositories
        (refreshed periodically)."""
        settings = base._settings(data_dir)
        errors = []
        for url in urls:
            try:
                settings.account_ref(url)
            except WatershedError as exc:
                errors.append(str(exc))
        if errors:
            fail_lines(errors)
            raise typer.Exit(1)

        async def run() -> tuple[v1.AddOrgReply, list[render_ops.GroupLine], dict[int, str]]:
            async with connect_stack(settings) as ends:
                reply = await request(ends.nats_url, subjects.CONTROL_ADD_ORG, v1.AddOrgRequest(urls=urls, group=group or ""),
                                      v1.add_org_reply_decoder)
                if not wait:
                    return reply, [], {}
                with bar(base.err, "listing repositories", enabled=not json) as update:
                    failed = await wait_for_listing(ends.database_url, reply, timeout=timeout, on_progress=update)
                conn = await asyncpg.connect(ends.database_url)
                try:
                    return reply, await groups_view(conn), failed
                finally:
                    await conn.close()

        reply, lines, failed = base._run(run())
        mine = {t.url for t in reply.targets}
        # A listing waited for that failed (a group or account that does not exist) is an error too.
        finish({"targets": reply.targets, "groups": [g for g in lines if g.source in mine]}, json,
               lambda: render_ops.orgs(base.out, reply, lines),
               [f"{t.input}: {t.error}" for t in reply.targets if t.error]
               + [f"{t.input}: the listing failed: {failed[t.source_id]}" for t in reply.targets
                  if t.source_id in failed])

    @app.command()
    def prioritize(urls: Urls, data_dir: DataDir = None, json: Json = False) -> None:
        """Move repositories to the front of the queue: their phases run next, ahead of everything due."""
        settings = base._settings(data_dir)
        if errors := validate_urls(settings, urls):
            fail_lines(errors)
            raise typer.Exit(1)

        reply = ask(settings, subjects.CONTROL_PRIORITIZE, v1.PrioritizeRequest(urls=urls), v1.collect_reply_decoder)
        finish(reply, json, lambda: render_ops.prioritized(base.out, reply),
               [f"{t.input}: {t.error}" for t in reply.targets if t.error])

    @app.command("set-repo")
    def set_repo(urls: Urls, priority: Priority = None, interval: Interval = None,
                 inherit_priority: InheritPriority = False, inherit_interval: InheritInterval = False,
                 data_dir: DataDir = None, json: Json = False) -> None:
        """Queue settings of repositories: priority and recollect interval (else their group's, else the global)."""
        settings = base._settings(data_dir)
        body = settings_request(priority, interval, inherit_priority, inherit_interval, urls=urls)
        send_settings(settings, body, json)

    @app.command("set-group")
    def set_group(name: Annotated[str, typer.Argument(help="Repository group.")], priority: Priority = None,
                  interval: Interval = None, inherit_priority: InheritPriority = False,
                  inherit_interval: InheritInterval = False, data_dir: DataDir = None, json: Json = False) -> None:
        """Queue settings of a repository group, for its repositories without settings of their own."""
        settings = base._settings(data_dir)
        body = settings_request(priority, interval, inherit_priority, inherit_interval, group=name)
        send_settings(settings, body, json)

    @app.command("queue")
    def queue_cmd(limit: Annotated[int, typer.Option(help="Entries to show.")] = 20, data_dir: DataDir = None,
                  json: Json = False) -> None:
        """The queue: jobs in flight and due per phase, and what runs next, in order."""
        from watershed.serve import read_database

        view = base._run(read_database(base._settings(data_dir), lambda conn: queue_view(conn, limit)))
        if json:
            render_ops.print_json(base.out, view)
        else:
            render_ops.queue(base.out, view)

    @app.command("groups")
    def groups_cmd(data_dir: DataDir = None, json: Json = False) -> None:
        """Repository groups: their repositories, settings and the account they follow."""
        from watershed.serve import read_database

        lines = base._run(read_database(base._settings(data_dir), groups_view))
        if json:
            render_ops.print_json(base.out, {"groups": lines})
        else:
            render_ops.groups(base.out, lines)

    dlq = typer.Typer(help="Dead letters: jobs that kept failing and messages that could not be applied.",
                      invoke_without_command=True, no_args_is_help=False)
    app.add_typer(dlq, name="dlq")

    @dlq.callback()
    def dlq_list(ctx: typer.Context,
                 all_: Annotated[bool, typer.Option("--all", help="Include resolved dead letters.")] = False,
                 limit: Annotated[int, typer.Option(help="Most recent first, at most this many.")] = 100,
                 data_dir: DataDir = None, json: Json = False) -> None:
        """List dead letters not resolved yet: repository, phase, error, attempts, when, next automatic retry."""
        if ctx.invoked_subcommand is not None:
            return
        from watershed.serve import read_database

        lines = base._run(read_database(base._settings(data_dir),
                                        lambda conn: dead_letters(conn, include_resolved=all_, limit=limit)))
        if json:
            render_ops.print_json(base.out, {"dead_letters": lines})
        else:
            render_ops.dead_letters(base.out, lines)

    @dlq.command("retry")
    def dlq_retry(ids: Annotated[Optional[list[int]], typer.Argument(help="Dead letter ids.")] = None,
                  all_: Annotated[bool, typer.Option("--all", help="Every dead letter not resolved or retried yet.")] = False,
                  data_dir: DataDir = None, json: Json = False) -> None:
        """Dispatch dead-lettered jobs again now (messages go back to the processor)."""
        if not ids and not all_:
            base._fail("give dead letter ids, or --all", 2)
        reply = ask(base._settings(data_dir), subjects.CONTROL_DLQ_RETRY,
                    v1.DeadLetterRetryRequest(ids=ids or [], all=all_), v1.dlq_retry_reply_decoder)
        finish(reply, json, lambda: render_ops.retried(base.out, reply),
               [f"dead letter {r.dead_letter_id}: {r.error}" for r in reply.retried if r.error])

    @app.command("replay")
    def replay_cmd(urls: Annotated[Optional[list[str]], typer.Argument(help="Repository URLs (default: all).")] = None,
                   since: Annotated[Optional[str], typer.Option(help="From this time (2026-11-01, 2026-11-01T12:00Z)"
                                                                     " or this long ago (2h, 7d).")] = None,
                   timeout: Annotated[float, typer.Option(help="Seconds to wait for the replay.")] = 3600.0,
                   data_dir: DataDir = None, json: Json = False) -> None:
        """Apply the staged events of repositories again: their rows are rebuilt from the stream."""
        settings = base._settings(data_dir)
        canonical, errors = [], []
        for url in urls or []:
            try:
                canonical.append(settings.repo_ref(url, allow_local=True).url)
            except WatershedError as exc:
                errors.append(str(exc))
        if errors:
            fail_lines(errors)
            raise typer.Exit(1)
        try:
            start = parse_since(since, datetime.now(timezone.utc)) if since else None
        except ValueError as exc:
            base._fail(str(exc), 2)

        async def run() -> v1.ReplayProgress:
            async with connect_stack(settings) as ends:
                with bar(base.err, "replaying", enabled=not json) as update:
                    return await replay(ends.nats_url, v1.ReplayRequest(urls=canonical, since=start), timeout=timeout,
                                        on_progress=lambda p: update(p.messages_done, p.messages_total))

        started = time.monotonic()
        result = base._run(run())
        seconds = time.monotonic() - started
        finish(result, json, lambda: render_ops.replayed(base.out, result, seconds),
               ([result.error] if result.error else []) + [f"{t.input}: {t.error}" for t in result.repos if t.error])

    # add-repo with a group and --json: the scheduler registers, the loop collects when due.
    @app.command("add-repo")
    def add_repo(urls: Urls, group: Annotated[str, typer.Option(help="Repository group.")] = "default",
                 data_dir: DataDir = None, json: Json = False) -> None:
        """Register repositories (in a group); the scheduler collects them when due (new ones at once)."""
        settings = base._settings(data_dir)
        if errors := validate_urls(settings, urls):
            fail_lines(errors)
            raise typer.Exit(1)

        async def run() -> v1.CollectReply:
            async with connect_stack(settings) as ends:
                return await request_collection(ends.nats_url, urls, dispatch=False, group=group)

        reply = base._run(run())
        if json:
            render_ops.print_json(base.out, reply)
        for target in reply.targets:
            if target.error:
                base.err.print(f"[bold red]error:[/] {render.escape(target.input)}: {render.escape(target.error)}")
            elif not json:
                word = "added" if target.created else "already registered"
                base.out.print(f"{word}: {render.escape(target.url)} (repo {target.repo_id})")
        raise typer.Exit(1 if any(t.error for t in reply.targets) else 0)
