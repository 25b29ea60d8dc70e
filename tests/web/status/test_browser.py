"""The status page in a real browser (Debian chromium via Playwright), with axe-core: a heading,
a list of outages each an article named by its title, and the empty state; desktop and phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, expect

from tests.outages.support import declare, post_update, set_public_tags
from tests.web.desk.conftest import Desk
from tests.web.desk.test_browser import browser, no_serious_violations

__all__ = ["browser"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


async def test_the_status_page_lists_outages_as_named_articles(
    desk: Desk, browser: Browser, artifacts: Path
) -> None:
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{desk.url}/status?tenant=acme")
    await expect(page.get_by_role("heading", name="Service status", level=1)).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("No known outages.")
    await no_serious_violations(page)
    await page.screenshot(path=artifacts / "status-none.png", full_page=True)

    sessions = desk.ports.sessions
    await set_public_tags(sessions, "acme", "postcode:")
    first = await declare(sessions, eta=datetime.now(UTC) + timedelta(hours=3))
    await post_update(sessions, first.ticket_number, "Splicing has started; about 2 hours to go.")
    await declare(
        sessions,
        title="Slow speeds in Prenzlauer Berg",
        tags=("cabinet:B12", "postcode:10405"),
        description="A line card is failing; traffic is rerouted.",
    )
    await declare(sessions, tenant="globex", title="Globex core router down")
    for name, size in VIEWPORTS.items():
        await page.set_viewport_size(size)
        await page.goto(f"{desk.url}/status?tenant=acme")
        outages = page.get_by_role("list", name="Known outages")
        await expect(outages.get_by_role("article")).to_have_count(2)
        cut = page.get_by_role("article", name="Fibre cut in Berlin-Mitte")
        await expect(cut).to_be_visible()
        await expect(cut).to_contain_text("Splicing has started; about 2 hours to go.")
        await expect(cut).to_contain_text("postcode:10115")
        await expect(cut).not_to_contain_text("olt:berlin-7")
        await expect(
            page.get_by_role("article", name="Slow speeds in Prenzlauer Berg")
        ).to_be_visible()
        await expect(page.get_by_text("Globex core router down")).to_have_count(0)
        await no_serious_violations(page)
        await page.screenshot(path=artifacts / f"status-{name}.png", full_page=True)
    # Keyboard: the skip link first, with a visible focus ring.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await context.close()
