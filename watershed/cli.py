"""The ``watershed`` command."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional, TypeVar

import typer
from rich.console import Console

from shared.logging import configure_logging
from shared.settings import Settings, SettingsError, load_settings
from watershed import render
from watershed.client import CliError, collect, validate_urls
from watershed.progress import bar

T = TypeVar("T")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Watershed: open source community health data.")
out = Console()
err = Console(stderr=True)

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Data directory (env WATERSHED_DATA_DIR).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _settings(data_dir: Path | None, **overrides: object) -> Settings:
    try:
        if data_dir is not None:
            overrides["data_dir"] = data_dir.expanduser().resolve()
        settings = load_settings(None, **overrides)
    except SettingsError as exc:
        _fail(str(exc), code=2)
    configure_logging(settings.log_level if settings.log_level != "info" else "warning", settings.log_format,
                      settings.secrets)
    return settings


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {render.escape(message)}")
    raise typer.Exit(code)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except CliError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted", code=130)


@app.command()
def up(data_dir: DataDir = None,
       http_port: Annotated[Optional[int], typer.Option(help="HTTP port (default: env or 8080; 0 = any).")] = None) -> None:
    """Start the embedded stack and all six services; run until Ctrl-C or SIGTERM."""
    from watershed.serve import serve

    settings = _settings(data_dir)
    configure_logging(settings.log_level, settings.log_format, settings.secrets)
    _run(serve(settings, http_port, out))


Timeout = Annotated[float, typer.Option(help="Seconds to wait for the rows.")]


@app.command("collect")
def collect_cmd(urls: Annotated[list[str], typer.Argument(help="Repository URLs (GitHub or any git remote).")],
                data_dir: DataDir = None, json: Json = False, timeout: Timeout = 3600.0) -> None:
    """Register repositories, collect every phase now, wait until the rows are committed, print a summary."""
    _collect(urls, data_dir, json, timeout, full=False)


@app.command("recollect")
def recollect_cmd(urls: Annotated[list[str], typer.Argument(help="Repository URLs.")],
                  data_dir: DataDir = None, json: Json = False, timeout: Timeout = 3600.0) -> None:
    """A full resync: collect everything again, ignoring stored cursors and ETags."""
    _collect(urls, data_dir, json, timeout, full=True)


def _collect(urls: list[str], data_dir: Path | None, json: bool, timeout: float, *, full: bool) -> None:
    settings = _settings(data_dir)
    errors = validate_urls(settings, urls)
    if errors:
        for line in errors:
            err.print(f"[bold red]error:[/] {render.escape(line)}", soft_wrap=True)
        raise typer.Exit(1)
    with bar(err, "collecting", enabled=not json) as update:
        reports, seconds = _run(collect(settings, urls, timeout=timeout, full=full, on_progress=update))
    render.summary(out, reports, seconds, as_json=json)
    if full:
        for report in reports:
            if report.running:
                err.print(f"[yellow]warning:[/] {render.escape(report.url)}: {', '.join(report.running)} was running"
                          " already: that job was waited for, not a full resync; run recollect again for one",
                          soft_wrap=True)
    failed = [r for r in reports if r.failed]
    # One line per failed repository, never wrapped: scripts grep it, people read it once.
    for report in failed:
        for line in report.errors():
            err.print(f"[bold red]error:[/] {render.escape(report.url)}: {render.escape(line)}", soft_wrap=True)
    raise typer.Exit(1 if failed else 0)


@app.command()
def status(urls: Annotated[Optional[list[str]], typer.Argument(help="Repository URLs (default: all).")] = None,
           data_dir: DataDir = None, json: Json = False) -> None:
    """Per repository and phase: state, last collected, next due, last error, rows per entity."""
    from watershed.serve import status_reports

    settings = _settings(data_dir)
    reports = _run(status_reports(settings, urls or []))
    render.status(out, reports, as_json=json)


@app.command()
def leaderboard(url: Annotated[Optional[str], typer.Argument(help="A repository URL (default: every repository).")] = None,
                since: Annotated[Optional[datetime], typer.Option(help="Window start (default: two years ago).")] = None,
                until: Annotated[Optional[datetime], typer.Option(help="Window end (default: now).")] = None,
                weights: Annotated[str, typer.Option(help="Changed weights, e.g. commits=12,line_cap=500.")] = "",
                bots: Annotated[bool, typer.Option("--bots", help="Rank bots too.")] = False,
                limit: Annotated[int, typer.Option(min=1, max=10_000)] = 25,
                data_dir: DataDir = None, json: Json = False) -> None:
    """Contributors ranked by points: commits 10, PR opened 15, merged 25, reviewed 20, issue opened 8,
    closed 5, comment 3, release 30, lines (capped at 1,000 points)."""
    from watershed.serve import leaderboard_entries

    settings = _settings(data_dir)
    utc = [None if t is None else (t if t.tzinfo else t.replace(tzinfo=timezone.utc)) for t in (since, until)]
    scope, entries = _run(leaderboard_entries(settings, url, utc[0], utc[1], weights, bots, limit))
    render.leaderboard(out, scope, entries, as_json=json)


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Apply the database migrations (to WATERSHED_DATABASE_URL, or the embedded database)."""
    from watershed.serve import migrate as run_migrate

    settings = _settings(data_dir)
    applied = _run(run_migrate(settings))
    out.print(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")


@app.command()
def demo(data_dir: DataDir = None, json: Json = False,
         serve: Annotated[bool, typer.Option("--serve", help="Keep the stack and its HTTP pages running.")] = False) -> None:
    """Offline showcase: a fake forge with sample data and a sample git repository, collected end to end."""
    from watershed.demo import run_demo

    base = _settings(data_dir)
    demo_dir = (data_dir.expanduser().resolve() if data_dir else base.data_dir / "demo")
    result = _run(run_demo(base.replace(data_dir=demo_dir, clones_dir=demo_dir / "clones"), out, as_json=json,
                           serve=serve))
    raise typer.Exit(0 if result else 1)


def _register_control_commands() -> None:
    from watershed import commands

    commands.register(app)


_register_control_commands()


def main() -> None:
    # Library warnings (testcontainers, deprecations) are noise on a user's terminal.
    if not sys.warnoptions:
        import warnings

        warnings.simplefilter("ignore")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()
