"""A linked ticket's outage on the tracking page in a real browser (Debian chromium via
Playwright), with axe-core, on desktop and phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, expect

from tests.outages.support import declare, post_update, tag_customer
from tests.web.desk.test_browser import no_serious_violations
from tests.web.tracking.conftest import Site
from tests.web.tracking.test_browser import browser

__all__ = ["browser"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


async def test_the_customer_reads_the_outage_on_the_tracking_page(
    site: Site, browser: Browser, artifacts: Path
) -> None:
    sessions = site.ports.sessions
    await tag_customer(sessions, "acme", "42", "olt:berlin-7")
    ticket = await site.open_ticket()
    declared = await declare(sessions, eta=datetime.now(UTC) + timedelta(hours=3))
    await post_update(sessions, declared.ticket_number, "Splicing has started.")
    for name, size in VIEWPORTS.items():
        context = await browser.new_context(locale="en-GB", viewport=size)  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(f"{site.url}/track?tenant=acme")
        await page.get_by_label("Ticket number").fill(ticket.ticket_number)
        await page.get_by_label("Email address").fill("jane@example.com")
        await page.get_by_role("button", name="Show my ticket").click()
        outage = page.get_by_role("region", name="Known outage: Fibre cut in Berlin-Mitte")
        await expect(outage).to_be_visible()
        updates = outage.get_by_role("list", name="Outage updates")
        await expect(updates.get_by_role("listitem")).to_have_count(2)
        await expect(updates.get_by_role("listitem").first).to_contain_text("Splicing has started.")
        await expect(outage.locator('[data-field="outage-status"]')).to_have_text("Ongoing")
        await expect(outage).not_to_contain_text(declared.ticket_number)
        await no_serious_violations(page)
        await page.screenshot(path=artifacts / f"tracking-outage-{name}.png", full_page=True)
        await context.close()
