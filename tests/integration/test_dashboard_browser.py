"""The dashboard in a real browser (headless Chromium): a person follows the links from the
overview to a collected repository and reads the same numbers the database holds, and an issue
titled with a script shows that title as text while no script runs."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.integration.apistack import (
    HOSTILE_TITLE,
    Collected,
)
from tests.integration.browser import LAUNCH_ARGS
from watershed.report import repo_report

pytestmark = pytest.mark.integration


def _number(text: str | None) -> int:
    return int((text or "").strip().replace(",", ""))


async def test_dashboard_shows_the_database_and_escapes_forge_text(api_repo: Collected, chromium_path: str,
                                                                   tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    conn = await asyncpg.connect(api_repo.database_url)
    try:
        report = await repo_report(conn, api_repo.repo_id)
        repos = await conn.fetchval("SELECT count(*) FROM data.repos")
        done_hour = await conn.fetchval("SELECT count(*) FROM ops.collection_status WHERE error_kind IS NULL"
                                        " AND finished_at >= now() - interval '1 hour'")
        stored_title = await conn.fetchval("SELECT title FROM data.issues WHERE repo_id = $1 AND title = $2",
                                           api_repo.repo_id, HOSTILE_TITLE)
    finally:
        await conn.close()
    assert stored_title == HOSTILE_TITLE, "the forge's title is stored as it came"

    dialogs: list[str] = []
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, headless=True, args=LAUNCH_ARGS)
        try:
            page = await browser.new_page()
            page.on("dialog", lambda d: dialogs.append(d.message))
            page.on("pageerror", lambda e: errors.append(str(e)))

            await page.goto(f"{api_repo.base_url}/")
            assert await page.title() == "Overview · Watershed"
            assert _number(await page.text_content("[data-testid=repos]")) == repos
            assert _number(await page.text_content("[data-testid=done-hour]")) == done_hour == 3  # collector, facade and resolver
            assert _number(await page.text_content("[data-testid=failing]")) == 0
            await page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

            await page.click("header >> text=Repositories")
            await page.click(f"text={api_repo.url}")
            assert page.url == f"{api_repo.base_url}/repos/{api_repo.repo_id}"

            shown = {await cell.get_attribute("data-entity"): _number(await cell.text_content())
                     for cell in await page.query_selector_all("#rows td[data-entity]")}
            assert shown == report.rows and shown["issues"] > 0
            titles = [await t.text_content() for t in await page.query_selector_all("#issues .title")]
            assert titles[0] == HOSTILE_TITLE, titles
            assert await page.locator("script").count() == 0
            assert await page.locator("#issues b").count() == 0, "forge markup is not markup here"
            await page.screenshot(path=str(tmp_path / "repo.png"), full_page=True)

            await page.click("header >> text=Dead letters")
            assert "No dead letters." in (await page.text_content("main") or "")
        finally:
            await browser.close()
    assert dialogs == [] and errors == []
